//! Level scheduling, shared by garbler and evaluator so both process (and
//! number, and emit tables for) the AND gates in the same order.
//!
//! A wire produced in a window is *ready* at the number of AND gates on its
//! longest path inside the window (wires from before the window are ready at
//! 0). The window is rewritten level by level: the AND gates whose output is
//! ready at `L` (one hashing batch, [`Step::Ands`]), then the free gates
//! (XOR, NOT, constants) ready at `L` in their stream order, cut into runs
//! of one kind ([`Step::Xors`] and so on) so the inner loops need no
//! dispatch. The rewritten list is again in topological order, so garbling
//! and evaluation are one linear pass over it.
//!
//! A stored circuit is scheduled once, as a single window
//! ([`schedule_circuit`]), before any protocol runs. A stream is scheduled
//! window by window as it arrives ([`Scheduler::plan`]). Reordering is sound
//! only if no wire slot is overwritten inside a window while an earlier
//! reader may be pending, so a gate that drives a slot already read or
//! written in the window ends the window (never the case for circuits in
//! normal form, where every wire is written once).

use quorate_circuits::{Circuit, Gate};

/// One step of a scheduled window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The next `n` gates are AND gates of one level: hash them together.
    Ands(u32),
    /// The next `n` gates are XOR gates, in order.
    Xors(u32),
    /// The next `n` gates are NOT gates, in order.
    Nots(u32),
    /// The next `n` gates are constants.
    Consts(u32),
}

impl Step {
    /// The number of gates in the step.
    pub fn len(&self) -> usize {
        match *self {
            Step::Ands(n) | Step::Xors(n) | Step::Nots(n) | Step::Consts(n) => n as usize,
        }
    }

    /// Whether the step has no gates.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A window rewritten in level order.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The gates, reordered.
    pub gates: Vec<Gate>,
    /// How to walk them.
    pub steps: Vec<Step>,
    /// AND gates among them.
    pub ands: usize,
}

impl Plan {
    fn clear(&mut self) {
        self.gates.clear();
        self.steps.clear();
        self.ands = 0;
    }
}

/// Schedules windows of a gate stream. See the module docs.
#[derive(Debug)]
pub struct Scheduler {
    stamp: Vec<u32>,
    ready: Vec<u32>,
    window: u32,
    level_of: Vec<u32>,
    /// Per level: (AND gates, free gates), then running offsets.
    counts: Vec<[u32; 2]>,
}

impl Scheduler {
    /// A scheduler for wire numbers below `slots`.
    pub fn new(slots: usize) -> Self {
        Scheduler {
            stamp: vec![u32::MAX; slots],
            ready: vec![0; slots],
            window: 0,
            level_of: Vec::new(),
            counts: Vec::new(),
        }
    }

    #[inline]
    fn read(&mut self, w: usize) -> u32 {
        if self.stamp[w] != self.window {
            self.stamp[w] = self.window;
            self.ready[w] = 0;
        }
        self.ready[w]
    }

    /// Schedules a prefix of `gates` as one window into `plan`; returns the
    /// prefix's length (at least one gate if `gates` is not empty).
    ///
    /// # Panics
    /// If a gate names a wire at or past `slots`.
    pub fn plan(&mut self, gates: &[Gate], plan: &mut Plan) -> usize {
        self.window = self.window.wrapping_add(1);
        if self.window == u32::MAX {
            self.stamp.fill(u32::MAX);
            self.window = 0;
        }
        plan.clear();
        self.level_of.clear();
        self.counts.clear();
        let mut used = gates.len();
        for (i, gate) in gates.iter().enumerate() {
            let out = gate.out().idx();
            if i > 0 && self.stamp[out] == self.window {
                used = i;
                break;
            }
            let (level, kind) = match *gate {
                Gate::And { a, b, .. } => (self.read(a.idx()).max(self.read(b.idx())) + 1, 0),
                Gate::Xor { a, b, .. } => (self.read(a.idx()).max(self.read(b.idx())), 1),
                Gate::Not { a, .. } => (self.read(a.idx()), 1),
                Gate::Const { .. } => (0, 1),
            };
            self.stamp[out] = self.window;
            self.ready[out] = level;
            let l = level as usize;
            if self.counts.len() <= l {
                self.counts.resize(l + 1, [0, 0]);
            }
            self.counts[l][kind] += 1;
            self.level_of.push(level << 1 | kind as u32);
        }
        // Counting sort by (level, kind): offsets, steps, then placement.
        let mut offset = 0u32;
        for c in &mut self.counts {
            let (ands, free) = (c[0], c[1]);
            c[0] = offset;
            offset += ands;
            c[1] = offset;
            offset += free;
        }
        let total = used as u32;
        for (l, c) in self.counts.iter().enumerate() {
            let next = self.counts.get(l + 1).map_or(total, |n| n[0]);
            let ands = c[1] - c[0];
            let free = next - c[1];
            if ands > 0 {
                plan.steps.push(Step::Ands(ands));
                plan.ands += ands as usize;
            }
            if free > 0 {
                // Cut into runs of one kind once the gates are placed.
                plan.steps.push(Step::Xors(free));
            }
        }
        plan.gates.resize(
            used,
            Gate::Const {
                value: false,
                out: quorate_circuits::Wire::new(0),
            },
        );
        for (gate, &lk) in gates[..used].iter().zip(&self.level_of) {
            let slot = &mut self.counts[(lk >> 1) as usize][(lk & 1) as usize];
            plan.gates[*slot as usize] = *gate;
            *slot += 1;
        }
        // Cut each free segment into runs of one kind.
        let kind = |g: &Gate| match g {
            Gate::Xor { .. } => 0,
            Gate::Not { .. } => 1,
            _ => 2,
        };
        let coarse = std::mem::take(&mut plan.steps);
        let mut pos = 0usize;
        for step in coarse {
            let n = step.len();
            if let Step::Ands(_) = step {
                plan.steps.push(step);
            } else {
                let mut run_start = pos;
                for i in pos..pos + n {
                    let last = i + 1 == pos + n;
                    if last || kind(&plan.gates[i + 1]) != kind(&plan.gates[i]) {
                        let len = (i + 1 - run_start) as u32;
                        plan.steps.push(match kind(&plan.gates[i]) {
                            0 => Step::Xors(len),
                            1 => Step::Nots(len),
                            _ => Step::Consts(len),
                        });
                        run_start = i + 1;
                    }
                }
            }
            pos += n;
        }
        used
    }
}

/// A stored circuit scheduled once for garbling: its gates in level order,
/// wires renumbered in the order they are computed (so labels are read and
/// written almost sequentially), and the steps to walk them.
#[derive(Clone, Debug)]
pub struct ScheduledCircuit {
    /// The same function as the original circuit, gates in level order.
    pub circuit: Circuit,
    /// The schedule (its gates are `circuit`'s gates).
    pub plan: Plan,
}

/// Schedules a whole stored circuit as one window and renumbers its wires.
pub fn schedule_circuit(circuit: &Circuit) -> ScheduledCircuit {
    let mut plan = Plan::default();
    Scheduler::new(circuit.num_wires()).plan(circuit.gates(), &mut plan);
    // Inputs keep 0..input_bits; every other wire gets the next number in
    // the order the plan computes it.
    let inputs = circuit.stats().input_bits as u32;
    let mut map: Vec<u32> = (0..circuit.num_wires() as u32).collect();
    for (next, gate) in (inputs..).zip(&plan.gates) {
        map[gate.out().idx()] = next;
    }
    let w = |x: quorate_circuits::Wire| quorate_circuits::Wire::new(map[x.idx()]);
    for gate in &mut plan.gates {
        *gate = match *gate {
            Gate::Xor { a, b, out } => Gate::Xor {
                a: w(a),
                b: w(b),
                out: w(out),
            },
            Gate::And { a, b, out } => Gate::And {
                a: w(a),
                b: w(b),
                out: w(out),
            },
            Gate::Not { a, out } => Gate::Not {
                a: w(a),
                out: w(out),
            },
            Gate::Const { value, out } => Gate::Const { value, out: w(out) },
        };
    }
    let mut interface = circuit.interface().clone();
    for output in &mut interface.outputs {
        for x in &mut output.wires {
            *x = w(*x);
        }
    }
    // The renumbered gates are a topological order over a bijection of the
    // wires, so this cannot fail; fall back to the original if it ever did.
    let circuit = Circuit::new(interface, plan.gates.clone()).unwrap_or_else(|_| circuit.clone());
    ScheduledCircuit { circuit, plan }
}

#[cfg(test)]
mod tests {
    use quorate_circuits::Wire;

    use super::*;

    fn w(i: u32) -> Wire {
        Wire::new(i)
    }

    #[test]
    fn independent_ands_share_a_level() {
        // Two inputs; AND(0,1)->2, XOR(0,1)->6, AND(0,1)->3, XOR(2,3)->4, AND(4,0)->5.
        let gates = [
            Gate::And {
                a: w(0),
                b: w(1),
                out: w(2),
            },
            Gate::Xor {
                a: w(0),
                b: w(1),
                out: w(6),
            },
            Gate::And {
                a: w(0),
                b: w(1),
                out: w(3),
            },
            Gate::Xor {
                a: w(2),
                b: w(3),
                out: w(4),
            },
            Gate::And {
                a: w(4),
                b: w(0),
                out: w(5),
            },
        ];
        let mut s = Scheduler::new(7);
        let mut p = Plan::default();
        assert_eq!(s.plan(&gates, &mut p), 5);
        assert_eq!(
            p.steps,
            vec![Step::Xors(1), Step::Ands(2), Step::Xors(1), Step::Ands(1)]
        );
        assert_eq!(
            p.gates,
            vec![gates[1], gates[0], gates[2], gates[3], gates[4]]
        );
        assert_eq!(p.ands, 3);
    }

    #[test]
    fn a_recycled_slot_ends_the_window() {
        // Slot 2 is written twice: the window stops before the second write.
        let gates = [
            Gate::And {
                a: w(0),
                b: w(1),
                out: w(2),
            },
            Gate::Not { a: w(2), out: w(3) },
            Gate::Xor {
                a: w(0),
                b: w(1),
                out: w(2),
            },
        ];
        let mut s = Scheduler::new(4);
        let mut p = Plan::default();
        assert_eq!(s.plan(&gates, &mut p), 2);
        assert_eq!(s.plan(&gates[2..], &mut p), 1);
    }
}
