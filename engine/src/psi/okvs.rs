//! An oblivious key-value store over `Z_2^64`: a table `D` of cells from
//! which `decode(k) = D[h1(k)] + D[h2(k)] + D[h3(k)]` gives the value
//! encoded for each key `k`, and a uniformly random-looking value for any
//! other key. Keys here are OPRF outputs (uniform 128-bit strings) and the
//! values are masked, so `D` reveals nothing beyond its size.
//!
//! Each value is stored plus a mask derived from its key, so a key that
//! was not encoded decodes to a random value even when its three cells
//! are an encoded key's.
//!
//! Encoding is the 3-hash garbled cuckoo table of Pinkas, Rosulek, Trieu
//! and Yanai ("PSI from PaXoS: fast, malicious private set intersection",
//! EUROCRYPT 2020, section 4): keys are hyperedges of a 3-partite
//! hypergraph on the cells; peeling (repeatedly removing a cell of degree
//! one with its edge) orders the edges, and assigning in reverse order
//! solves every edge with the cell it was peeled from. With at least
//! 1.3 cells per key the hypergraph peels with high probability (its
//! threshold is about 1.222); a failed peeling is retried with another
//! seed, never returned.

use crate::block::Block;
use crate::prg::Prg;

/// Cells per key for large inputs.
const EXPANSION: f64 = 1.3;

/// Cells for `keys` keys.
pub fn cells_for(keys: usize) -> usize {
    let e = if keys < 10_000 { 2.0 } else { EXPANSION };
    ((keys as f64 * e).ceil() as usize)
        .next_multiple_of(3)
        .max(3)
}

fn mix(x: u64) -> u64 {
    // SplitMix64's finaliser: spreads the key's bits.
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The three cells of `key` in a table of `cells` cells under `seed`: one
/// in each third of the table, so they are always distinct.
pub fn positions(key: Block, seed: u64, cells: usize) -> [usize; 3] {
    let third = (cells / 3).max(1) as u128;
    let lo = key.0 as u64;
    let hi = (key.0 >> 64) as u64;
    let h = [
        mix(lo ^ seed),
        mix(hi ^ seed.rotate_left(21)),
        mix(lo ^ hi ^ seed.rotate_left(42)),
    ];
    [0, 1, 2].map(|i| i * third as usize + ((u128::from(h[i]) * third) >> 64) as usize)
}

/// A key's own mask for field `f`, added to what the table stores: a key
/// whose three cells happen to coincide with an encoded key's still
/// decodes to a random value (its mask differs), so tiny tables are as
/// safe as large ones.
fn key_mask(key: Block, f: usize) -> u64 {
    let lo = key.0 as u64;
    let hi = (key.0 >> 64) as u64;
    mix(mix(hi ^ 0x6a09_e667_f3bc_c908 ^ f as u64) ^ lo.rotate_left(17))
}

/// An encoded store: `fields` values per key, cell-major.
#[derive(Clone, Debug)]
pub struct Okvs {
    /// The seed of the positions.
    pub seed: u64,
    /// Cells.
    pub cells: usize,
    /// Values per key.
    pub fields: usize,
    /// `cells × fields` values, cell by cell.
    pub table: Vec<u64>,
}

/// Encoding failed for every seed tried (keys repeated, or too few cells).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not encode {keys} keys into {cells} cells (a key given twice?)")]
pub struct EncodeFailed {
    /// Keys.
    pub keys: usize,
    /// Cells.
    pub cells: usize,
}

impl Okvs {
    /// Encodes the `fields` values `values[k * fields..(k + 1) * fields]`
    /// for `keys[k]`; the free cells are filled from `prg`.
    pub fn encode(
        keys: &[Block],
        values: &[u64],
        fields: usize,
        prg: &mut Prg,
    ) -> Result<Okvs, EncodeFailed> {
        let cells = cells_for(keys.len());
        let fail = EncodeFailed {
            keys: keys.len(),
            cells,
        };
        if values.len() != keys.len() * fields || u32::try_from(cells).is_err() {
            return Err(fail);
        }
        for attempt in 0..8u64 {
            let seed = prg.block().0 as u64 ^ attempt;
            let edges: Vec<[u32; 3]> = keys
                .iter()
                .map(|&k| positions(k, seed, cells).map(|c| c as u32))
                .collect();
            let Some(order) = peel(&edges, cells) else {
                continue;
            };
            let mut table = vec![0u64; cells * fields];
            let mut fill = vec![Block::ZERO; table.len().div_ceil(2)];
            prg.fill_blocks(&mut fill);
            for (t, b) in table
                .iter_mut()
                .zip(fill.iter().flat_map(|b| [b.0 as u64, (b.0 >> 64) as u64]))
            {
                *t = b;
            }
            for &(e, free) in order.iter().rev() {
                let (e, free) = (e as usize, free as usize);
                let [a, b, c] = edges[e].map(|x| x as usize);
                for f in 0..fields {
                    let others = [a, b, c]
                        .iter()
                        .filter(|&&x| x != free)
                        .fold(0u64, |s, &x| s.wrapping_add(table[x * fields + f]));
                    table[free * fields + f] = values[e * fields + f]
                        .wrapping_add(key_mask(keys[e], f))
                        .wrapping_sub(others);
                }
            }
            return Ok(Okvs {
                seed,
                cells,
                fields,
                table,
            });
        }
        Err(fail)
    }

    /// The values at `key`.
    pub fn decode(&self, key: Block) -> Vec<u64> {
        let p = positions(key, self.seed, self.cells);
        (0..self.fields)
            .map(|f| {
                p.iter()
                    .fold(0u64, |s, &x| {
                        s.wrapping_add(self.table[x * self.fields + f])
                    })
                    .wrapping_sub(key_mask(key, f))
            })
            .collect()
    }
}

/// Peels the hypergraph: `(edge, the cell it was peeled from)` in peeling
/// order, or `None` if a 2-core remains.
fn peel(edges: &[[u32; 3]], cells: usize) -> Option<Vec<(u32, u32)>> {
    // Each cell's degree and the XOR of its edges' indices side by side
    // (one cache line per visit): at degree one the XOR is the edge. An
    // edge is removed from all three of its cells at once, so a cell of
    // degree one always names a live edge.
    let mut cell = vec![[0u32; 2]; cells];
    for (e, cs) in edges.iter().enumerate() {
        for &c in cs {
            let x = &mut cell[c as usize];
            x[0] += 1;
            x[1] ^= e as u32;
        }
    }
    let mut stack: Vec<u32> = (0..cells as u32)
        .filter(|&c| cell[c as usize][0] == 1)
        .collect();
    let mut order = Vec::with_capacity(edges.len());
    while let Some(c) = stack.pop() {
        if cell[c as usize][0] != 1 {
            continue;
        }
        let e = cell[c as usize][1];
        order.push((e, c));
        for &x in &edges[e as usize] {
            let d = &mut cell[x as usize];
            d[0] -= 1;
            d[1] ^= e;
            if d[0] == 1 {
                stack.push(x);
            }
        }
    }
    (order.len() == edges.len()).then_some(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_keys_decode_and_others_do_not() {
        let mut prg = Prg::from_entropy().unwrap();
        for n in [0usize, 1, 2, 3, 100, 20_000] {
            let keys: Vec<Block> = (0..n).map(|_| prg.block()).collect();
            let values: Vec<u64> = (0..n as u64).flat_map(|i| [i, i * 7 + 1]).collect();
            let o = Okvs::encode(&keys, &values, 2, &mut prg).unwrap();
            assert_eq!(o.table.len(), o.cells * 2);
            for (k, v) in keys.iter().zip(values.chunks(2)) {
                assert_eq!(o.decode(*k), v);
            }
            let other = o.decode(prg.block());
            assert!(values.chunks(2).all(|v| *v != other[..]));
        }
    }

    #[test]
    fn a_repeated_key_fails_cleanly() {
        let mut prg = Prg::from_entropy().unwrap();
        let k = prg.block();
        assert!(Okvs::encode(&[k, k], &[1, 2], 1, &mut prg).is_err());
        assert!(Okvs::encode(&[k], &[1, 2], 1, &mut prg).is_err());
    }
}
