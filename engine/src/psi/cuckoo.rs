//! Cuckoo and simple hashing into bins, for PSI on a batched OPRF.
//!
//! Items are 128-bit blocks that are already hashes of the parties' keys
//! (uniform), so the three bin positions are three disjoint 40-bit slices
//! of the item, each scaled to the number of bins. With `1.27 n` bins and
//! three hash functions, cuckoo insertion fails with probability about
//! 2^-40 for large `n` (Pinkas, Schneider, Tkachenko, Yanai 2019, table
//! 3); smaller sets get relatively more bins ([`bins_for`]). A failure is
//! an error, never a silent drop: the caller retries with another hash
//! seed.

use crate::block::Block;

/// Hash functions.
pub const HASHES: usize = 3;

/// Bins for `n` items.
pub fn bins_for(n: usize) -> usize {
    let scaled = (n as f64 * 1.27).ceil() as usize;
    if n < 4096 {
        scaled.max(2 * n) + 16
    } else {
        scaled
    }
}

/// The bin of `item` under hash function `h` (0..3), among `bins`.
pub fn bin(item: Block, h: usize, bins: usize) -> usize {
    let slice = (item.0 >> (40 * h)) as u64 & ((1 << 40) - 1);
    ((u128::from(slice) * bins as u128) >> 40) as usize
}

/// The block a receiver feeds the OPRF for `item` placed by hash
/// function `h`: the pair `(item, h)`, so one item found through two
/// hash functions never matches twice.
pub fn tagged(item: Block, h: usize) -> Block {
    item ^ Block((h as u128 + 1) << 122)
}

/// Cuckoo insertion failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cuckoo hashing of {items} items into {bins} bins failed; retry with another seed")]
pub struct CuckooFailed {
    /// Items.
    pub items: usize,
    /// Bins.
    pub bins: usize,
}

/// Places each item in one of its bins: for each bin, `(item index, hash
/// function)` or `None`.
pub fn cuckoo(items: &[Block], bins: usize) -> Result<Vec<Option<(usize, usize)>>, CuckooFailed> {
    let fail = CuckooFailed {
        items: items.len(),
        bins,
    };
    if bins == 0 {
        return if items.is_empty() {
            Ok(Vec::new())
        } else {
            Err(fail)
        };
    }
    // Slots packed as `index << 2 | hash function`, EMPTY where free: a
    // third of the memory of `Option<(usize, usize)>`, so more of the
    // table stays in cache during the random walks.
    const EMPTY: u64 = u64::MAX;
    let mut table = vec![EMPTY; bins];
    let limit = 500 + 50 * (usize::BITS - items.len().leading_zeros()) as usize;
    // The random walk of cuckoo insertion: an evicted item moves to one of
    // its two other bins, chosen by a xorshift generator (the choice needs
    // no secrecy, only spread).
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64 ^ items.len() as u64;
    for (start, &item) in items.iter().enumerate() {
        // A free bin among the item's three first: at this load most
        // items find one, and the walk is only for the rest.
        let free = (0..HASHES)
            .map(|h| (h, bin(item, h, bins)))
            .find(|&(_, b)| table[b] == EMPTY);
        if let Some((h, b)) = free {
            table[b] = (start as u64) << 2 | h as u64;
            continue;
        }
        let mut cur = (start as u64) << 2;
        let mut placed = false;
        for _ in 0..limit {
            let (i, h) = ((cur >> 2) as usize, (cur & 3) as usize);
            let b = bin(items[i], h, bins);
            let evicted = std::mem::replace(&mut table[b], cur);
            if evicted == EMPTY {
                placed = true;
                break;
            }
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let hj = (evicted & 3) as usize;
            cur = (evicted & !3) | ((hj + 1 + (rng & 1) as usize) % HASHES) as u64;
        }
        if !placed {
            return Err(fail);
        }
    }
    Ok(table
        .into_iter()
        .map(|v| (v != EMPTY).then_some(((v >> 2) as usize, (v & 3) as usize)))
        .collect())
}

/// Places each item in all three of its bins (twice in one bin if two
/// hash functions agree): `(bin, item index, hash function)` for every
/// placement, ordered by bin (a counting sort: no list per bin).
pub fn simple(items: &[Block], bins: usize) -> Vec<(usize, usize, usize)> {
    if bins == 0 {
        return Vec::new();
    }
    let mut start = vec![0usize; bins + 1];
    for &x in items {
        for h in 0..HASHES {
            start[bin(x, h, bins) + 1] += 1;
        }
    }
    for b in 0..bins {
        start[b + 1] += start[b];
    }
    let mut out = vec![(0, 0, 0); HASHES * items.len()];
    for (i, &x) in items.iter().enumerate() {
        for h in 0..HASHES {
            let b = bin(x, h, bins);
            out[start[b]] = (b, i, h);
            start[b] += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_lands_in_one_of_its_bins() {
        for n in [0usize, 1, 2, 10, 1000, 100_000] {
            let items: Vec<Block> = (0..n).map(|_| Block::random().unwrap()).collect();
            let bins = bins_for(n);
            let t = cuckoo(&items, bins).unwrap();
            let mut seen = vec![false; n];
            for (b, slot) in t.iter().enumerate() {
                if let Some((i, h)) = *slot {
                    assert_eq!(bin(items[i], h, bins), b);
                    assert!(!seen[i], "item {i} twice");
                    seen[i] = true;
                }
            }
            assert!(seen.iter().all(|&s| s), "n = {n}");
            let s = simple(&items, bins);
            assert_eq!(s.len(), HASHES * n);
            assert!(s.windows(2).all(|w| w[0].0 <= w[1].0), "ordered by bin");
            let mut each = vec![0usize; n];
            for &(b, i, h) in &s {
                assert_eq!(bin(items[i], h, bins), b);
                each[i] += 1 << (8 * h);
            }
            assert!(each.iter().all(|&e| e == 0x01_01_01), "every item thrice");
        }
    }

    #[test]
    fn too_few_bins_fail_cleanly() {
        let items: Vec<Block> = (0..100).map(|_| Block::random().unwrap()).collect();
        assert_eq!(
            cuckoo(&items, 50),
            Err(CuckooFailed {
                items: 100,
                bins: 50
            })
        );
    }
}
