//! The garbler's engine (ZRE15 figure 2, `Gb`).

use quorate_circuits::Gate;

use super::schedule::{Op, Plan, Step};
use super::{GarblerLabel, Wires, and_tweak, constant_label};
use crate::block::Block;
use crate::hash::{FixedKeyAes, sigma};
use crate::net::handshake::SessionId;
use crate::ot::Delta;

/// AND gates hashed per AES call: their inputs stay in L1.
const SUB: usize = 64;

/// Garbles scheduled windows; holds `Δ` and each wire slot's zero label.
pub struct Garbler {
    delta: Delta,
    /// Hash inputs of a sub-batch: four per AND gate.
    w: Wires<{ 4 * SUB }>,
}

impl std::fmt::Debug for Garbler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Garbler")
            .field("gate", &self.w.gate)
            .finish_non_exhaustive()
    }
}

impl Garbler {
    /// A garbler with global offset `delta` (lsb 1) for `slots` wire slots.
    pub fn new(delta: Delta, slots: usize, session: &SessionId) -> Self {
        Garbler {
            delta,
            w: Wires::new(slots, session),
        }
    }

    /// Starts over for a new run (a new session, `slots` wire slots) keeping
    /// the allocations.
    pub fn reset(&mut self, slots: usize, session: &SessionId) {
        self.w.reset(slots, session);
    }

    /// Sets the zero label of an input wire.
    pub fn set_input(&mut self, wire: usize, zero: GarblerLabel) {
        self.w.set_label(wire, zero.0);
    }

    /// The zero label of a wire.
    pub fn zero_label(&self, wire: usize) -> GarblerLabel {
        GarblerLabel(self.w.label(wire))
    }

    /// The global offset.
    pub fn delta(&self) -> &Delta {
        &self.delta
    }

    /// Schedules and garbles a prefix of `gates` (see [`Scheduler::plan`](super::schedule::Scheduler::plan)),
    /// appending two blocks per AND gate to `tables`; returns the number of
    /// gates taken.
    pub fn garble(&mut self, gates: &[Gate], tables: &mut Vec<Block>) -> usize {
        let used = self.w.schedule(gates);
        let plan = std::mem::take(&mut self.w.plan);
        self.garble_plan(&plan, tables);
        self.w.plan = plan;
        used
    }

    /// Garbles a scheduled window, appending two blocks per AND gate.
    pub fn garble_plan(&mut self, plan: &Plan, tables: &mut Vec<Block>) {
        tables.reserve(2 * plan.ands);
        let mut pos = 0usize;
        for &step in &plan.steps {
            let n = step.len();
            self.garble_step(step, &plan.ops[pos..pos + n], tables);
            pos += n;
        }
    }

    /// Garbles one step of a schedule: `ops` are exactly the step's gates,
    /// on slots below the garbler's slot count (as the crate's schedules
    /// are: labels are indexed by mask, so a slot past it wraps onto
    /// another).
    pub fn garble_step(&mut self, step: Step, ops: &[Op], tables: &mut Vec<Block>) {
        let delta = self.delta.expose();
        let first = self.w.gate;
        // Slots are below the (power of two) length: masking them changes
        // nothing and lets the compiler drop the bounds checks.
        let m = self.w.labels.len() - 1;
        let l = &mut self.w.labels[..];
        match step {
            Step::Ands(_) => {
                let sdelta = sigma(delta);
                let h = FixedKeyAes::get();
                let x = &mut self.w.x[..];
                for (c, chunk) in ops.chunks(SUB).enumerate() {
                    // MMO-σ hashes of A0, A1, B0, B1 (tweaks j, j, j', j'),
                    // computed in one pipelined AES call for the chunk.
                    // σ is linear: σ(X ⊕ Δ) = σ(X) ⊕ σ(Δ).
                    let x = &mut x[..4 * chunk.len()];
                    let mut j0 = Block(and_tweak(self.w.salt, first + (c * SUB) as u64));
                    let mut j1 = j0.add_low(1);
                    for (op, x) in chunk.iter().zip(x.chunks_exact_mut(4)) {
                        let (sa, sb) = (sigma(l[op.a as usize & m]), sigma(l[op.b as usize & m]));
                        x.copy_from_slice(&[sa ^ j0, sa ^ sdelta ^ j0, sb ^ j1, sb ^ sdelta ^ j1]);
                        (j0, j1) = (j0.add_low(2), j1.add_low(2));
                    }
                    h.permute_many(x);
                    let t0 = tables.len();
                    tables.resize(t0 + 2 * chunk.len(), Block::ZERO);
                    let out_tables = &mut tables[t0..];
                    for ((op, x), t) in chunk
                        .iter()
                        .zip(x.chunks_exact(4))
                        .zip(out_tables.chunks_exact_mut(2))
                    {
                        let (a0, b0) = (l[op.a as usize & m], l[op.b as usize & m]);
                        let (pa, pb) = (a0.lsb_mask(), b0.lsb_mask());
                        // With π's outputs x0..x3, H(A0) = x0 ⊕ σ(A0),
                        // H(A1) = x1 ⊕ σ(A0) ⊕ σ(Δ), H(B0) = x2 ⊕ σ(B0),
                        // H(B1) = x3 ⊕ σ(B0) ⊕ σ(Δ).
                        // Generator half: TG = H(A0) ⊕ H(A1) ⊕ pb·Δ,
                        // WG0 = H(A0) ⊕ pa·TG.
                        let tg = x[0] ^ x[1] ^ sdelta ^ (delta & pb);
                        let wg0 = x[0] ^ sigma(a0) ^ (tg & pa);
                        // Evaluator half: TE = H(B0) ⊕ H(B1) ⊕ A0,
                        // WE0 = H(B0) ⊕ pb·(TE ⊕ A0).
                        let hb = x[2] ^ x[3] ^ sdelta;
                        let we0 = x[2] ^ sigma(b0) ^ (hb & pb);
                        l[op.out as usize & m] = wg0 ^ we0;
                        t[0] = tg;
                        t[1] = hb ^ a0;
                    }
                }
            }
            Step::Xors(_) => {
                for op in ops {
                    l[op.out as usize & m] = l[op.a as usize & m] ^ l[op.b as usize & m];
                }
            }
            Step::Nots(_) => {
                for op in ops {
                    l[op.out as usize & m] = l[op.a as usize & m] ^ delta;
                }
            }
            Step::Consts(_) => {
                for (k, op) in ops.iter().enumerate() {
                    let public = constant_label(self.w.salt, first + k as u64);
                    l[op.out as usize & m] = public ^ delta.and_bit(op.a != 0);
                }
            }
        }
        self.w.gate += ops.len() as u64;
    }
}
