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
use crate::simd::prefetch;

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
            // Free cells keep random values; each peeled cell is then
            // solved for its edge, in reverse peeling order.
            let mut table = vec![0u64; cells * fields];
            prg.fill_bytes(bytemuck::cast_slice_mut(&mut table));
            // The order names each edge's three cells, so the loop reads
            // it in sequence and fetches the scattered cells, key and
            // values a few steps ahead.
            const AHEAD: usize = 32;
            for i in (0..order.len()).rev() {
                if let Some(o) = i.checked_sub(AHEAD).map(|j| order[j]) {
                    // `get`: with no fields there is nothing to fetch.
                    for c in &o[1..] {
                        table.get(*c as usize * fields).map(prefetch);
                    }
                    prefetch(&keys[o[0] as usize]);
                    values.get(o[0] as usize * fields).map(prefetch);
                }
                let [e, free, a, b] = order[i].map(|x| x as usize);
                let key = keys[e];
                for f in 0..fields {
                    let others = table[a * fields + f].wrapping_add(table[b * fields + f]);
                    table[free * fields + f] = values[e * fields + f]
                        .wrapping_add(key_mask(key, f))
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
        let mut out = vec![0u64; self.fields];
        self.decode_into(key, &mut out);
        out
    }

    /// The values at `key`, into `out` (`fields` long).
    fn decode_into(&self, key: Block, out: &mut [u64]) {
        let p = positions(key, self.seed, self.cells);
        for (f, o) in out.iter_mut().enumerate() {
            *o = p
                .iter()
                .fold(0u64, |s, &x| {
                    s.wrapping_add(self.table[x * self.fields + f])
                })
                .wrapping_sub(key_mask(key, f));
        }
    }

    /// The values at each of `keys`, `fields` per key one key after
    /// another, with each key's cells fetched a few keys ahead.
    pub fn decode_many(&self, keys: &[Block]) -> Vec<u64> {
        const AHEAD: usize = 8;
        let mut out = vec![0u64; keys.len() * self.fields];
        let ahead: Vec<[usize; 3]> = keys
            .iter()
            .take(AHEAD)
            .map(|&k| positions(k, self.seed, self.cells))
            .collect();
        let mut ring = [[0usize; 3]; AHEAD];
        ring[..ahead.len()].copy_from_slice(&ahead);
        for (i, (&key, o)) in keys
            .iter()
            .zip(out.chunks_exact_mut(self.fields.max(1)))
            .enumerate()
        {
            let p = ring[i % AHEAD];
            if let Some(&next) = keys.get(i + AHEAD) {
                let q = positions(next, self.seed, self.cells);
                for &c in &q {
                    self.table.get(c * self.fields).map(prefetch);
                }
                ring[i % AHEAD] = q;
            }
            for (f, v) in o.iter_mut().enumerate() {
                *v = p
                    .iter()
                    .fold(0u64, |s, &x| {
                        s.wrapping_add(self.table[x * self.fields + f])
                    })
                    .wrapping_sub(key_mask(key, f));
            }
        }
        out
    }
}

/// Peels the hypergraph: for each edge in peeling order `[edge, the cell
/// it was peeled from, its other two cells]`, or `None` if a 2-core
/// remains.
///
/// Peeling goes in rounds over the cells of degree one (any order gives
/// the same result: the edges outside the 2-core), so the loop knows the
/// cells it visits next and prefetches, a few steps ahead, each cell, then
/// its edge, then that edge's cells: at a million keys the tables are far
/// larger than the caches and the loop waits on memory otherwise.
fn peel(edges: &[[u32; 3]], cells: usize) -> Option<Vec<[u32; 4]>> {
    // Each cell's degree and the XOR of its edges' indices side by side
    // (one cache line per visit): at degree one the XOR is the edge. An
    // edge is removed from all three of its cells at once, so a cell of
    // degree one always names a live edge.
    let mut cell = vec![[0u32; 2]; cells];
    const AHEAD: usize = 16;
    for (e, cs) in edges.iter().enumerate() {
        if let Some(next) = edges.get(e + AHEAD) {
            for &c in next {
                prefetch(&cell[c as usize]);
            }
        }
        for &c in cs {
            let x = &mut cell[c as usize];
            x[0] += 1;
            x[1] ^= e as u32;
        }
    }
    let mut cur: Vec<u32> = (0..cells as u32)
        .filter(|&c| cell[c as usize][0] == 1)
        .collect();
    let mut next = Vec::new();
    let mut order = Vec::with_capacity(edges.len());
    while !cur.is_empty() {
        for i in 0..cur.len() {
            if let Some(&c) = cur.get(i + 3 * AHEAD / 2) {
                prefetch(&cell[c as usize]);
            }
            if let Some(&c) = cur.get(i + AHEAD) {
                // A stale XOR may name no edge: then nothing is fetched.
                if let Some(e) = edges.get(cell[c as usize][1] as usize) {
                    prefetch(e);
                }
            }
            if let Some(&c) = cur.get(i + AHEAD / 2) {
                let x = cell[c as usize];
                if let Some(e) = edges.get(x[1] as usize).filter(|_| x[0] == 1) {
                    for &y in e {
                        prefetch(&cell[y as usize]);
                    }
                }
            }
            let c = cur[i];
            let x = cell[c as usize];
            if x[0] != 1 {
                continue;
            }
            let e = x[1];
            let es = edges[e as usize];
            let mut entry = [e, c, 0, 0];
            let mut k = 2;
            for &y in &es {
                if y != c && k < 4 {
                    entry[k] = y;
                    k += 1;
                }
                let d = &mut cell[y as usize];
                d[0] -= 1;
                d[1] ^= e;
                if d[0] == 1 {
                    next.push(y);
                }
            }
            order.push(entry);
        }
        std::mem::swap(&mut cur, &mut next);
        next.clear();
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
            assert_eq!(o.decode_many(&keys), values, "decode_many agrees");
            let other = o.decode(prg.block());
            assert!(values.chunks(2).all(|v| *v != other[..]));
        }
    }

    #[test]
    fn no_fields_is_an_empty_store() {
        let mut prg = Prg::from_entropy().unwrap();
        let keys: Vec<Block> = (0..100).map(|_| prg.block()).collect();
        let o = Okvs::encode(&keys, &[], 0, &mut prg).unwrap();
        assert!(o.table.is_empty());
        assert!(o.decode_many(&keys).is_empty());
        assert!(o.decode(keys[0]).is_empty());
    }

    #[test]
    fn a_repeated_key_fails_cleanly() {
        let mut prg = Prg::from_entropy().unwrap();
        let k = prg.block();
        assert!(Okvs::encode(&[k, k], &[1, 2], 1, &mut prg).is_err());
        assert!(Okvs::encode(&[k], &[1, 2], 1, &mut prg).is_err());
    }
}
