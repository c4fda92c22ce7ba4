//! The private part of a union query: every party's contribution
//! secret-shared among all parties (additive shares over Z_2^64, the
//! engine's `arith`), summed share-wise, and only the totals opened; MIN
//! and MAX by a tournament of secret comparisons (A2B through GMW, the
//! sign bit, B2A, one Beaver multiplication per round), opening only the
//! winner.

use quorate_engine::arith::{ArithError, Party, Shares};

use super::eval::Local;

/// Party `me`'s side of the combination: every party calls this with its
/// own [`Local`] (of the same lengths everywhere). Returns the opened
/// additive totals and extremes; `mins[k]` says whether extreme `k` is a
/// MIN (else a MAX).
pub fn combine(
    party: &mut Party,
    local: &Local,
    mins: &[bool],
) -> Result<(Vec<u64>, Vec<u64>), ArithError> {
    let n = party.parties();
    let me = party.id();
    let len = local.additive.len();
    // 1. Sums: each party's vector shared by it, the shares added.
    let mut total: Option<Shares<u64>> = None;
    for owner in 0..n {
        let s = party.input(
            owner,
            (owner == me).then_some(local.additive.as_slice()),
            len,
        )?;
        total = Some(match total {
            None => s,
            Some(t) => t.add(&s)?,
        });
    }
    let additive = match total {
        Some(t) => party.open(&t)?,
        None => Vec::new(),
    };
    // 2. Extremes: a tournament; round i keeps min (or max) of the best
    // so far and party i's candidate, without revealing which.
    let k = mins.len();
    if k == 0 {
        return Ok((additive, Vec::new()));
    }
    let cands: Vec<Shares<u64>> = (0..n)
        .map(|owner| party.input(owner, (owner == me).then_some(local.extremes.as_slice()), k))
        .collect::<Result<_, _>>()?;
    let mut best = cands[0].clone();
    for c in &cands[1..] {
        // d = c - best; MIN takes c where d < 0, MAX where best - c < 0.
        let d = c.sub(&best)?;
        let neg_d = best.sub(c)?;
        let flip: Vec<u64> = mins.iter().map(|&m| u64::from(!m)).collect();
        // Per element: test d for a MIN, -d for a MAX.
        let test = select(&d, &neg_d, &flip)?;
        let bit = party.ltz(&test)?;
        let take = party.b2a::<u64>(&bit, k)?;
        let mut triples = party.triples::<u64>(k)?;
        let step = party.mul(&take, &d, &mut triples)?;
        best = best.add(&step)?;
    }
    let extremes = party.open(&best)?;
    Ok((additive, extremes))
}

/// Elementwise `if flip { b } else { a }` for a public `flip`.
fn select(a: &Shares<u64>, b: &Shares<u64>, flip: &[u64]) -> Result<Shares<u64>, ArithError> {
    let v: Vec<u64> = a
        .expose()
        .iter()
        .zip(b.expose())
        .zip(flip)
        .map(|((&x, &y), &f)| if f == 1 { y } else { x })
        .collect();
    Ok(Shares::new(v))
}
