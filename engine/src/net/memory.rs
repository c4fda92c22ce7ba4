//! In-memory channels: all parties in one process, for tests and the
//! default run of every `quorate` command.

use quorate_circuits::PartyId;

use super::{Channel, PIPE_CAPACITY, Pipe};

/// A connected pair of channels: `a` talks to `b`.
pub fn pair(a: (PartyId, &str), b: (PartyId, &str)) -> (Channel, Channel) {
    let ab = Pipe::new(PIPE_CAPACITY);
    let ba = Pipe::new(PIPE_CAPACITY);
    (
        Channel::from_pipes(a.0, b.0, b.1.to_owned(), ab.clone(), ba.clone(), None),
        Channel::from_pipes(b.0, a.0, a.1.to_owned(), ba, ab, None),
    )
}

/// Channels between every two of `names.len()` parties: `mesh[i][j]` is
/// party `i`'s channel to party `j` (`None` when `i == j`). Give each party
/// its row.
pub fn mesh(names: &[&str]) -> Vec<Vec<Option<Channel>>> {
    let n = names.len();
    let mut rows: Vec<Vec<Option<Channel>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    for i in 0..n {
        for j in i + 1..n {
            let (ci, cj) = pair((PartyId(i as u16), names[i]), (PartyId(j as u16), names[j]));
            rows[i][j] = Some(ci);
            rows[j][i] = Some(cj);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::block::Block;
    use crate::net::NetError;

    fn two() -> (Channel, Channel) {
        pair((PartyId(0), "alice"), (PartyId(1), "bob"))
    }

    #[test]
    fn bytes_frames_blocks_messages_and_counts() {
        let (mut a, mut b) = two();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 5];
            b.recv(&mut buf).unwrap();
            assert_eq!(&buf, b"hello");
            assert_eq!(b.recv_frame().unwrap(), vec![1, 2, 3]);
            let mut blocks = [Block::ZERO; 1000];
            b.recv_blocks(&mut blocks).unwrap();
            assert!(blocks.iter().enumerate().all(|(i, x)| x.0 == i as u128));
            let msg: (u32, String) = b.recv_msg("test message").unwrap();
            assert_eq!(msg, (7, "seven".to_owned()));
            b.send(b"ok").unwrap();
            b.flush().unwrap();
            b.traffic()
        });
        a.send(b"hello").unwrap();
        a.send_frame(&[1, 2, 3]).unwrap();
        let blocks: Vec<Block> = (0..1000u128).map(Block).collect();
        a.send_blocks(&blocks).unwrap();
        a.send_msg(&(7u32, "seven")).unwrap();
        let mut ok = [0u8; 2];
        a.recv(&mut ok).unwrap();
        let tb = t.join().unwrap();
        assert_eq!(a.traffic().sent, tb.received);
        assert_eq!(a.traffic().received, 2);
        assert_eq!(tb.sent, 2);
    }

    #[test]
    fn deadline_and_disconnect() {
        let (mut a, b) = two();
        a.set_timeout(Duration::from_millis(50));
        let start = Instant::now();
        let mut buf = [0u8; 1];
        assert!(matches!(a.recv(&mut buf), Err(NetError::Timeout { .. })));
        assert!(start.elapsed() < Duration::from_secs(2));
        drop(b);
        let err = a.recv(&mut buf).unwrap_err();
        assert!(
            matches!(err, NetError::Closed { ref peer } if peer == "bob"),
            "{err}"
        );
        assert!(matches!(
            a.send(&[0u8; 1 << 20]),
            Err(NetError::Closed { .. })
        ));
    }

    #[test]
    fn a_frame_over_the_maximum_is_refused_unread() {
        let (mut a, mut b) = two();
        a.send(&u32::MAX.to_le_bytes()).unwrap();
        a.flush().unwrap();
        let err = b.recv_frame_max(1024).unwrap_err();
        assert!(
            matches!(err, NetError::FrameTooLarge { len, max: 1024, .. } if len == u64::from(u32::MAX))
        );
    }

    #[test]
    fn full_duplex_large_sends() {
        let (mut a, mut b) = two();
        let big = vec![7u8; 8 << 20];
        let big2 = big.clone();
        let t = std::thread::spawn(move || {
            b.send(&big2).unwrap();
            let mut got = vec![0u8; 8 << 20];
            b.recv(&mut got).unwrap();
            got
        });
        a.send(&big).unwrap();
        let mut got = vec![0u8; 8 << 20];
        a.recv(&mut got).unwrap();
        assert_eq!(got, big);
        assert_eq!(t.join().unwrap(), big);
    }

    #[test]
    fn mesh_connects_everyone() {
        let mut m = mesh(&["a", "b", "c"]);
        let mut c_row = m.pop().unwrap();
        let mut b_row = m.pop().unwrap();
        let mut a_row = m.pop().unwrap();
        a_row[2].as_mut().unwrap().send_frame(b"a->c").unwrap();
        b_row[2].as_mut().unwrap().send_frame(b"b->c").unwrap();
        a_row[2].as_mut().unwrap().flush().unwrap();
        b_row[2].as_mut().unwrap().flush().unwrap();
        assert_eq!(c_row[0].as_mut().unwrap().recv_frame().unwrap(), b"a->c");
        assert_eq!(c_row[1].as_mut().unwrap().recv_frame().unwrap(), b"b->c");
        assert!(c_row[2].is_none());
        assert_eq!(c_row[1].as_ref().unwrap().peer_name(), "b");
    }
}
