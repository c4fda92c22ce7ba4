//! A synthetic streamed circuit of any size: the benchmark and test circuit
//! for garbling far more gates than fit in memory.
//!
//! Unit `u` computes `A_u = B_{u-h} ∧ B_{u-h-1}` and `B_u = A_u ⊕ B_{u-1}`
//! (one AND, one XOR) on wire slots taken from a ring of `R` slots, with
//! `h = R/4` and the two 64-bit inputs standing in for the `B`s before the
//! first unit. A slot is overwritten only `R/2` units after it was written,
//! long after its last reader, so memory is `R` labels whatever the number
//! of gates. Inside a window of up to `R/4` units every AND reads earlier
//! windows, so a window's AND gates form one hashing batch. The output is
//! the last 64 `B`s.

use quorate_circuits::{Gate, Input, Interface, Output, Party, PartyId, Wire};

use super::GateSource;

const INPUT_BITS: u32 = 128;

/// See the module docs.
#[derive(Debug, Clone)]
pub struct WideStream {
    interface: Interface,
    units: u64,
    ring: u32,
    next: u64,
}

impl WideStream {
    /// A stream of `and_gates` AND gates (and as many XOR gates) over a ring
    /// of `ring` slots (a power of two, at least 1024).
    ///
    /// # Panics
    /// If `ring` is not a power of two of at least 1024, or `and_gates` is
    /// below 64.
    pub fn new(and_gates: u64, ring: u32) -> Self {
        assert!(
            ring.is_power_of_two() && ring >= 1024,
            "ring must be a power of two >= 1024"
        );
        assert!(and_gates >= 64, "at least 64 AND gates");
        let mut s = WideStream {
            interface: Interface::default(),
            units: and_gates,
            ring,
            next: 0,
        };
        let outputs = (and_gates - 64..and_gates).map(|u| s.b(u)).collect();
        s.interface = Interface {
            parties: vec![
                Party {
                    name: "garbler".into(),
                },
                Party {
                    name: "evaluator".into(),
                },
            ],
            inputs: vec![
                Input {
                    name: "x".into(),
                    party: PartyId(0),
                    width: 64,
                },
                Input {
                    name: "y".into(),
                    party: PartyId(1),
                    width: 64,
                },
            ],
            outputs: vec![Output {
                name: "z".into(),
                wires: outputs,
            }],
        };
        s
    }

    fn a(&self, u: u64) -> Wire {
        Wire::new(INPUT_BITS + ((2 * u) % u64::from(self.ring)) as u32)
    }

    /// `B_u`, or an input wire for `u < 0`.
    fn b(&self, u: u64) -> Wire {
        Wire::new(INPUT_BITS + ((2 * u + 1) % u64::from(self.ring)) as u32)
    }

    fn b_or_input(&self, u: i64) -> Wire {
        if u >= 0 {
            self.b(u as u64)
        } else {
            Wire::new((u.unsigned_abs() % u64::from(INPUT_BITS)) as u32)
        }
    }
}

impl GateSource for WideStream {
    fn interface(&self) -> &Interface {
        &self.interface
    }

    fn slots(&self) -> usize {
        (INPUT_BITS + self.ring) as usize
    }

    fn fill(&mut self, out: &mut Vec<Gate>, max: usize) -> usize {
        let h = i64::from(self.ring / 4);
        let mut n = 0;
        while n + 2 <= max && self.next < self.units {
            let u = self.next as i64;
            out.push(Gate::And {
                a: self.b_or_input(u - h),
                b: self.b_or_input(u - h - 1),
                out: self.a(self.next),
            });
            out.push(Gate::Xor {
                a: self.a(self.next),
                b: self.b_or_input(u - 1),
                out: self.b(self.next),
            });
            self.next += 1;
            n += 2;
        }
        n
    }

    fn and_gates(&self) -> Option<u64> {
        Some(self.units)
    }
}

#[cfg(test)]
mod tests {
    use quorate_circuits::{Bits, GateSink, StreamEvaluator};

    use super::*;

    #[test]
    fn the_stream_evaluates_in_bounded_slots() {
        let mut s = WideStream::new(100_000, 1 << 12);
        let x = Bits::from_u64(0x0123_4567_89ab_cdef, 64);
        let y = Bits::from_u64(0xfedc_ba98_7654_3210, 64);
        let flat: Vec<bool> = x.iter().chain(y.iter()).collect();
        let mut ev = StreamEvaluator::new(&flat);
        let mut buf = Vec::new();
        let mut total = 0;
        loop {
            buf.clear();
            if s.fill(&mut buf, 4096) == 0 {
                break;
            }
            for &g in &buf {
                assert!(g.out().idx() < s.slots());
                ev.push(g);
            }
            total += buf.len();
        }
        assert_eq!(total, 200_000);
        let out = ev.outputs(s.interface());
        assert_eq!(out[0].len(), 64);
    }
}
