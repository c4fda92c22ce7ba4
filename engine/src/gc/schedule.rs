//! Level scheduling, shared by garbler and evaluator so both process (and
//! number, and emit tables for) the AND gates in the same order.
//!
//! A wire produced in a window is *ready* at the number of AND gates on its
//! longest path inside the window (wires from before the window are ready at
//! 0). The window is rewritten level by level: the AND gates whose output is
//! ready at `L` (one hashing batch, [`Step::Ands`]), then the free gates
//! (XOR, NOT, constants) ready at `L`, ordered by their depth in free gates
//! (so consecutive ones rarely depend on each other), cut into runs of one
//! kind ([`Step::Xors`] and so on) so the inner loops need no dispatch.
//! The order is part of the protocol: a constant's public label depends on
//! its place. The rewritten list is again in topological order, so garbling
//! and evaluation are one linear pass over it.
//!
//! A stored circuit is scheduled once, as a single window
//! ([`schedule_circuit`]), before any protocol runs. A stream is scheduled
//! window by window as it arrives ([`Scheduler::plan`]). Reordering is sound
//! only if no wire slot is overwritten inside a window while an earlier
//! reader may be pending, so a gate that drives a slot already read or
//! written in the window ends the window (never the case for circuits in
//! normal form, where every wire is written once).

use quorate_circuits::{Circuit, Gate, Interface, Wire};

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

/// A gate of a plan, in 12 bytes: what it computes is its step's kind.
/// AND and XOR gates are `[a, b, out]`; a NOT gate `[a, a, out]`; a
/// constant `[value, 0, out]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Op {
    /// First input (a constant's value).
    pub a: u32,
    /// Second input.
    pub b: u32,
    /// The driven wire.
    pub out: u32,
}

impl Op {
    /// The op of a gate.
    pub fn of(gate: &Gate) -> Self {
        let w = Wire::index;
        match *gate {
            Gate::Xor { a, b, out } | Gate::And { a, b, out } => Op {
                a: w(a),
                b: w(b),
                out: w(out),
            },
            Gate::Not { a, out } => Op {
                a: w(a),
                b: w(a),
                out: w(out),
            },
            Gate::Const { value, out } => Op {
                a: u32::from(value),
                b: 0,
                out: w(out),
            },
        }
    }

    /// The gate this op stands for in a step of kind `step`.
    pub fn gate(self, step: Step) -> Gate {
        let (a, b, out) = (Wire::new(self.a), Wire::new(self.b), Wire::new(self.out));
        match step {
            Step::Ands(_) => Gate::And { a, b, out },
            Step::Xors(_) => Gate::Xor { a, b, out },
            Step::Nots(_) => Gate::Not { a, out },
            Step::Consts(_) => Gate::Const {
                value: self.a != 0,
                out,
            },
        }
    }
}

/// A window rewritten in level order.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The gates, reordered, as ops (12 bytes each, not a 16-byte
    /// [`Gate`]: the engines' inner loops read this array once per run).
    pub ops: Vec<Op>,
    /// How to walk them: each step's kind says what its ops compute.
    pub steps: Vec<Step>,
    /// AND gates among them.
    pub ands: usize,
}

impl Plan {
    fn clear(&mut self) {
        self.ops.clear();
        self.steps.clear();
        self.ands = 0;
    }

    /// The plan's gates, in order.
    pub fn gates(&self) -> Vec<Gate> {
        let mut gates = Vec::with_capacity(self.ops.len());
        let mut pos = 0;
        for &step in &self.steps {
            let n = step.len();
            gates.extend(self.ops[pos..pos + n].iter().map(|op| op.gate(step)));
            pos += n;
        }
        gates
    }
}

/// Schedules windows of a gate stream. See the module docs.
#[derive(Debug)]
pub struct Scheduler {
    stamp: Vec<u32>,
    /// Per wire written in this window: its level and its free depth.
    ready: Vec<(u32, u32)>,
    window: u32,
    /// Per gate of the window: its level and its free depth (its bucket).
    key_of: Vec<(u32, u32)>,
    /// Per level: the number of buckets (ANDs, then one per free depth).
    depths: Vec<u32>,
    /// Per level: the number of its first bucket.
    base: Vec<u32>,
    /// Per bucket (levels one after another): gates, then running offsets.
    counts: Vec<u32>,
    /// The window's gates in plan order.
    sorted: Vec<Gate>,
}

impl Scheduler {
    /// A scheduler for wire numbers below `slots`.
    pub fn new(slots: usize) -> Self {
        Scheduler {
            stamp: vec![u32::MAX; slots],
            ready: vec![(0, 0); slots],
            window: 0,
            key_of: Vec::new(),
            depths: Vec::new(),
            base: Vec::new(),
            counts: Vec::new(),
            sorted: Vec::new(),
        }
    }

    #[inline]
    fn read(&mut self, w: usize) -> (u32, u32) {
        if self.stamp[w] != self.window {
            self.stamp[w] = self.window;
            self.ready[w] = (0, 0);
        }
        self.ready[w]
    }

    /// Schedules a prefix of `gates` as one window into `plan`; returns the
    /// prefix's length (at least one gate if `gates` is not empty).
    ///
    /// Within a level the free gates are ordered by their depth in free
    /// gates from the level's AND outputs, so consecutive XOR gates rarely
    /// read what the one before just wrote: the CPU overlaps them instead
    /// of waiting on each store.
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
        self.key_of.clear();
        self.depths.clear();
        let mut used = gates.len();
        for (i, gate) in gates.iter().enumerate() {
            let out = gate.out().idx();
            if i > 0 && self.stamp[out] == self.window {
                used = i;
                break;
            }
            // A free gate's depth counts free gates back to its level's
            // AND outputs (or the window's inputs); an AND gate has depth 0.
            let free = |(l, d): (u32, u32), level: u32| if l == level { d } else { 0 };
            let (level, depth) = match *gate {
                Gate::And { a, b, .. } => {
                    let (la, lb) = (self.read(a.idx()).0, self.read(b.idx()).0);
                    (la.max(lb) + 1, 0)
                }
                Gate::Xor { a, b, .. } => {
                    let (ra, rb) = (self.read(a.idx()), self.read(b.idx()));
                    let level = ra.0.max(rb.0);
                    (level, free(ra, level).max(free(rb, level)) + 1)
                }
                Gate::Not { a, .. } => {
                    let ra = self.read(a.idx());
                    (ra.0, ra.1 + 1)
                }
                Gate::Const { .. } => (0, 1),
            };
            self.stamp[out] = self.window;
            self.ready[out] = (level, depth);
            let l = level as usize;
            if self.depths.len() <= l {
                self.depths.resize(l + 1, 1);
            }
            self.depths[l] = self.depths[l].max(depth + 1);
            self.key_of.push((level, depth));
        }
        // Buckets: level by level, the ANDs (depth 0) then each free depth.
        self.base.clear();
        let mut buckets = 0u32;
        for &d in &self.depths {
            self.base.push(buckets);
            buckets += d;
        }
        self.counts.clear();
        self.counts.resize(buckets as usize, 0);
        for &(l, d) in &self.key_of {
            self.counts[(self.base[l as usize] + d) as usize] += 1;
        }
        // Counting sort by bucket: steps, offsets, then placement.
        let mut offset = 0u32;
        for (&first, &depths) in self.base.iter().zip(&self.depths) {
            let level = &mut self.counts[first as usize..(first + depths) as usize];
            for (d, c) in level.iter_mut().enumerate() {
                let n = std::mem::replace(c, offset);
                offset += n;
                if n > 0 && d == 0 {
                    plan.steps.push(Step::Ands(n));
                    plan.ands += n as usize;
                } else if n > 0 {
                    plan.steps.push(Step::Xors(n));
                }
            }
        }
        self.sorted.clear();
        self.sorted.resize(
            used,
            Gate::Const {
                value: false,
                out: Wire::new(0),
            },
        );
        for (gate, &(l, d)) in gates[..used].iter().zip(&self.key_of) {
            let slot = &mut self.counts[(self.base[l as usize] + d) as usize];
            self.sorted[*slot as usize] = *gate;
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
                    if last || kind(&self.sorted[i + 1]) != kind(&self.sorted[i]) {
                        let len = (i + 1 - run_start) as u32;
                        plan.steps.push(match kind(&self.sorted[i]) {
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
        plan.ops.extend(self.sorted.iter().map(Op::of));
        used
    }
}

/// A stored circuit scheduled once for garbling: its gates in level order,
/// on wire slots that are reused once a wire is dead, so the labels a run
/// touches stay in cache (AES-128's 31,792 wires need about 1,000 slots).
#[derive(Clone, Debug)]
pub struct ScheduledCircuit {
    /// The same function as the original circuit, gates in level order,
    /// each wire its own number (in the order the plan computes them): for
    /// statistics and export only. Its wire numbers are not slots: engines
    /// running `plan` must use `interface` and `slots`.
    pub circuit: Circuit,
    /// The schedule, on slots: op `k` of `plan.ops` is gate `k` of
    /// `circuit` with each wire replaced by the slot it lives in.
    pub plan: Plan,
    /// `circuit`'s interface in slots: inputs keep `0..input_bits`, outputs
    /// name the slots that hold them at the end.
    pub interface: Interface,
    /// Slots the plan uses.
    pub slots: usize,
}

/// Schedules a whole stored circuit as one window, renumbers its wires, and
/// assigns them slots.
pub fn schedule_circuit(circuit: &Circuit) -> ScheduledCircuit {
    let mut plan = Plan::default();
    let mut scheduler = Scheduler::new(circuit.num_wires());
    scheduler.plan(circuit.gates(), &mut plan);
    // The gates in plan order (`assign_slots` rebuilds the ops on slots).
    let mut gates = std::mem::take(&mut scheduler.sorted);
    // Inputs keep 0..input_bits; every other wire gets the next number in
    // the order the plan computes it.
    let inputs = circuit.stats().input_bits as u32;
    let mut map: Vec<u32> = (0..circuit.num_wires() as u32).collect();
    for (next, gate) in (inputs..).zip(&gates) {
        map[gate.out().idx()] = next;
    }
    for gate in &mut gates {
        *gate = gate.map_wires(|x| Wire::new(map[x.idx()]));
    }
    let mut interface = circuit.interface().clone();
    for output in &mut interface.outputs {
        for x in &mut output.wires {
            *x = Wire::new(map[x.idx()]);
        }
    }
    // The renumbered gates are a topological order over a bijection of the
    // wires, so this cannot fail; fall back to the original if it ever did.
    let renumbered = Circuit::new(interface, gates.clone()).unwrap_or_else(|_| circuit.clone());
    let (plan, interface, slots) = assign_slots(&renumbered, gates, plan);
    ScheduledCircuit {
        circuit: renumbered,
        plan,
        interface,
        slots,
    }
}

/// Gives each wire of `circuit` (whose gates are `gates`, `plan`'s in
/// single assignment) a slot: inputs keep theirs, each gate's output takes the
/// most recently freed slot, and a wire's slot is freed after the step of
/// its last reader (never for outputs). Freeing only between steps keeps
/// the engines' batched steps sound: no gate of a step can overwrite what
/// another gate of the same step still reads.
fn assign_slots(
    circuit: &Circuit,
    mut gates: Vec<Gate>,
    mut plan: Plan,
) -> (Plan, Interface, usize) {
    const NEVER: u32 = u32::MAX;
    let n = circuit.num_wires();
    let inputs = circuit.stats().input_bits as usize;
    // The step of each wire's last reader; outputs live to the end.
    let mut last = vec![NEVER - 1; n];
    let mut step_of = Vec::with_capacity(gates.len());
    for (s, step) in plan.steps.iter().enumerate() {
        step_of.extend(std::iter::repeat_n(s as u32, step.len()));
    }
    for (gate, &s) in gates.iter().zip(&step_of) {
        for w in gate.inputs() {
            last[w.idx()] = s;
        }
    }
    for output in &circuit.interface().outputs {
        for w in &output.wires {
            last[w.idx()] = NEVER;
        }
    }
    // Wires by the step after which they die (unread wires: their own
    // step, or the first for unread inputs).
    let mut dies: Vec<Vec<u32>> = vec![Vec::new(); plan.steps.len().max(1)];
    for (w, &l) in last.iter().enumerate().take(inputs) {
        if l != NEVER {
            dies[if l == NEVER - 1 { 0 } else { l as usize }].push(w as u32);
        }
    }
    for (gate, &s) in gates.iter().zip(&step_of) {
        let o = gate.out().idx();
        match last[o] {
            NEVER => {}
            l if l == NEVER - 1 => dies[s as usize].push(o as u32),
            l => dies[l as usize].push(o as u32),
        }
    }
    let mut slot: Vec<u32> = (0..n as u32).collect();
    let mut free: Vec<u32> = Vec::new();
    let mut slots = inputs as u32;
    let mut pos = 0;
    for (s, step) in plan.steps.iter().enumerate() {
        for gate in &mut gates[pos..pos + step.len()] {
            let o = gate.out().idx();
            slot[o] = free.pop().unwrap_or_else(|| {
                slots += 1;
                slots - 1
            });
            *gate = gate.map_wires(|x| Wire::new(slot[x.idx()]));
        }
        pos += step.len();
        free.extend(dies[s].iter().rev().map(|&w| slot[w as usize]));
    }
    let mut interface = circuit.interface().clone();
    for output in &mut interface.outputs {
        for x in &mut output.wires {
            *x = Wire::new(slot[x.idx()]);
        }
    }
    plan.ops.clear();
    plan.ops.extend(gates.iter().map(Op::of));
    (plan, interface, (slots as usize).max(inputs))
}

#[cfg(test)]
mod tests {
    use quorate_circuits::{Bits, evaluate, library};

    use super::*;
    use crate::prg::{Prg, Seed};

    fn w(i: u32) -> Wire {
        Wire::new(i)
    }

    /// Runs a slot plan in the clear the way the engines batch it: every
    /// gate of a step reads before any gate of the step writes.
    fn run_plan(s: &ScheduledCircuit, inputs: &[Bits]) -> Vec<Bits> {
        let mut v = vec![false; s.slots];
        let mut k = 0;
        for x in inputs {
            for bit in x.iter() {
                v[k] = bit;
                k += 1;
            }
        }
        let all = s.plan.gates();
        let mut pos = 0;
        for step in &s.plan.steps {
            let gates = &all[pos..pos + step.len()];
            // What lets the engines write a step's outputs while its other
            // gates still read (the garbler's AND step reads its inputs
            // again after writing): a step writes each slot once and reads
            // none of the slots it writes.
            let written: std::collections::HashSet<usize> =
                gates.iter().map(|g| g.out().idx()).collect();
            assert_eq!(written.len(), gates.len(), "a slot written twice in a step");
            for g in gates {
                for x in g.inputs() {
                    assert!(!written.contains(&x.idx()), "a step reads a slot it writes");
                }
            }
            let outs: Vec<(usize, bool)> = gates
                .iter()
                .map(|g| {
                    let val = match *g {
                        Gate::And { a, b, .. } => v[a.idx()] & v[b.idx()],
                        Gate::Xor { a, b, .. } => v[a.idx()] ^ v[b.idx()],
                        Gate::Not { a, .. } => !v[a.idx()],
                        Gate::Const { value, .. } => value,
                    };
                    (g.out().idx(), val)
                })
                .collect();
            for (o, val) in outs {
                v[o] = val;
            }
            pos += step.len();
        }
        s.interface
            .outputs
            .iter()
            .map(|o| {
                let mut b = Bits::zeros(o.wires.len());
                for (i, x) in o.wires.iter().enumerate() {
                    b.set(i, v[x.idx()]);
                }
                b
            })
            .collect()
    }

    #[test]
    fn slots_are_reused_and_compute_the_same_function() {
        for name in ["aes128", "sha256", "millionaires"] {
            let c = library::builtin(name).unwrap().build().unwrap();
            let s = schedule_circuit(&c);
            assert!(s.slots <= c.num_wires(), "{name}: {} slots", s.slots);
            if name != "millionaires" {
                // Mostly temporaries: far fewer slots than wires.
                assert!(s.slots < c.num_wires() / 4, "{name}: {} slots", s.slots);
            }
            let mut prg = Prg::new(&Seed::new(crate::block::Block(7)), 0);
            for _ in 0..4 {
                let inputs: Vec<Bits> = c
                    .interface()
                    .inputs
                    .iter()
                    .map(|i| {
                        let bits: Vec<bool> = (0..i.width).map(|_| prg.block().lsb()).collect();
                        Bits::from_bools(&bits)
                    })
                    .collect();
                assert_eq!(
                    run_plan(&s, &inputs),
                    evaluate(&c, &inputs).unwrap(),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn free_gates_of_a_level_go_by_depth() {
        // Inputs 0, 1: XOR(0,1)->2, XOR(2,0)->3, XOR(0,1)->4: 2 and 4 are
        // independent (depth 1), 3 reads 2 (depth 2).
        let gates = [
            Gate::Xor {
                a: w(0),
                b: w(1),
                out: w(2),
            },
            Gate::Xor {
                a: w(2),
                b: w(0),
                out: w(3),
            },
            Gate::Xor {
                a: w(0),
                b: w(1),
                out: w(4),
            },
        ];
        let mut s = Scheduler::new(5);
        let mut p = Plan::default();
        assert_eq!(s.plan(&gates, &mut p), 3);
        assert_eq!(p.gates(), vec![gates[0], gates[2], gates[1]]);
        assert_eq!(p.steps, vec![Step::Xors(2), Step::Xors(1)]);
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
            p.gates(),
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
