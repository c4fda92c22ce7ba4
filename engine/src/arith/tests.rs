use k256::Scalar;

use super::*;
use crate::net::memory::mesh;

const NAMES: [&str; 5] = ["p0", "p1", "p2", "p3", "p4"];

/// Runs `f` for each of `n` parties in memory, each on its own thread.
pub(crate) fn run<T: Send>(
    n: usize,
    f: impl Fn(Party) -> Result<T, ArithError> + Sync,
) -> Vec<Result<T, ArithError>> {
    let session = SessionId::random().unwrap();
    let rows = mesh(&NAMES[..n]);
    let f = &f;
    thread::scope(|s| {
        let handles: Vec<_> = rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let session = &session;
                s.spawn(move || f(Party::setup(i, row, session)?))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn sum<R: Ring>(parts: &[&[R]], k: usize) -> R {
    parts.iter().fold(R::zero(), |acc, p| acc.add(p[k]))
}

fn triples_multiply<R: Ring>(parties: usize, count: usize) {
    let out = run(parties, |mut p| {
        let t = p.triples::<R>(count)?;
        let (a, b, c) = t.expose();
        Ok((a.to_vec(), b.to_vec(), c.to_vec()))
    });
    let out: Vec<_> = out.into_iter().map(Result::unwrap).collect();
    let a: Vec<&[R]> = out.iter().map(|o| o.0.as_slice()).collect();
    let b: Vec<&[R]> = out.iter().map(|o| o.1.as_slice()).collect();
    let c: Vec<&[R]> = out.iter().map(|o| o.2.as_slice()).collect();
    for k in 0..count {
        let (a, b, c) = (sum(&a, k), sum(&b, k), sum(&c, k));
        assert_eq!(a.mul(b), c, "{parties} parties, triple {k}");
        assert_ne!(a, R::zero());
    }
}

#[test]
fn z64_triples_multiply_for_2_to_5_parties() {
    for n in 2..=5 {
        triples_multiply::<u64>(n, 300);
    }
}

#[test]
fn scalar_triples_multiply() {
    triples_multiply::<Scalar>(2, 20);
    triples_multiply::<Scalar>(3, 10);
}

#[test]
fn triples_span_several_batches() {
    triples_multiply::<u64>(2, TRIPLE_BATCH + 5);
}

/// Each party inputs a random vector; every product of two parties'
/// vectors, opened, equals the plaintext product.
fn mul_matches_plaintext<R: Ring>(parties: usize, len: usize) {
    let mut prg = Prg::from_entropy().unwrap();
    let inputs: Vec<Vec<R>> = (0..parties)
        .map(|_| (0..len).map(|_| R::random(&mut prg)).collect())
        .collect();
    let inputs = &inputs;
    let out = run(parties, |mut p| {
        let me = p.id();
        let mut x = Vec::new();
        for (owner, values) in inputs.iter().enumerate() {
            let v = (owner == me).then_some(values.as_slice());
            x.push(p.input(owner, v, len)?);
        }
        let mut t = p.triples::<R>(len * (parties - 1))?;
        let mut opened = Vec::new();
        for j in 1..parties {
            let z = p.mul(&x[0], &x[j], &mut t)?;
            opened.push(p.open(&z)?);
        }
        // Linear operations, locally.
        let lin = x[0].add(&x[1])?.sub(&x[1].scale(R::one().double()))?;
        opened.push(p.open(&lin)?);
        assert!(t.is_empty());
        Ok(opened)
    });
    for o in out {
        let o = o.unwrap();
        for j in 1..parties {
            for k in 0..len {
                assert_eq!(o[j - 1][k], inputs[0][k].mul(inputs[j][k]));
            }
        }
        for k in 0..len {
            let want = inputs[0][k].add(inputs[1][k]).sub(inputs[1][k].double());
            assert_eq!(o[parties - 1][k], want);
        }
    }
}

#[test]
fn z64_mul_matches_plaintext_for_2_to_5_parties() {
    for n in 2..=5 {
        mul_matches_plaintext::<u64>(n, 257);
    }
}

#[test]
fn scalar_mul_matches_plaintext() {
    mul_matches_plaintext::<Scalar>(3, 9);
}

#[test]
fn open_to_reaches_only_its_party() {
    let out = run(3, |mut p| {
        let v = (p.id() == 1).then_some(&[7u64, 8, 9][..]);
        let x = p.input(1, v, 3)?;
        p.open_to(&x, 2)
    });
    let out: Vec<_> = out.into_iter().map(Result::unwrap).collect();
    assert_eq!(out, vec![None, None, Some(vec![7, 8, 9])]);
}

#[test]
fn shares_alone_look_random() {
    // The non-owners' shares of an input are their seeds' streams: not the
    // value, and different at each party.
    let out = run(3, |mut p| {
        let v = (p.id() == 0).then_some(&[5u64; 4][..]);
        Ok(p.input(0, v, 4)?.expose().to_vec())
    });
    let out: Vec<_> = out.into_iter().map(Result::unwrap).collect();
    assert_ne!(out[1], out[2]);
    assert!(out.iter().all(|s| s != &vec![5u64; 4]));
}

#[test]
fn a_party_that_drops_out_gives_the_others_an_error() {
    let out = run(3, |mut p| {
        if p.id() == 2 {
            return Ok(0); // leaves: its channels close
        }
        let x = p.input(0, (p.id() == 0).then_some(&[1u64][..]), 1)?;
        p.open(&x)?;
        Ok(1)
    });
    assert!(out[2].is_ok());
    // p0 talks to p2 first and names it; p1 then sees p0 leave.
    let e0 = out[0].as_ref().unwrap_err().to_string();
    assert!(e0.contains("p2"), "{e0}");
    let e1 = out[1].as_ref().unwrap_err().to_string();
    assert!(e1.contains("closed the connection"), "{e1}");
}

#[test]
fn bad_setups_are_refused() {
    let session = SessionId::random().unwrap();
    let mut rows = mesh(&NAMES[..2]);
    let row = rows.remove(0);
    assert!(Party::setup(1, row, &session).is_err());
    let e = Party::setup(0, vec![None], &session).unwrap_err();
    assert!(e.to_string().contains("2 to 16 parties"), "{e}");
}

#[test]
fn wrong_lengths_are_refused() {
    let a = Shares::new(vec![1u64, 2]);
    let b = Shares::new(vec![1u64]);
    assert!(matches!(a.add(&b), Err(ArithError::Length(2, 1))));
    let mut t = Triples::<u64>::default();
    assert!(matches!(
        t.take(1),
        Err(ArithError::OutOfTriples { need: 1, have: 0 })
    ));
}
