//! The garbler's engine (ZRE15 figure 2, `Gb`).

use quorate_circuits::Gate;

use super::schedule::{Plan, Step};
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
        self.w.labels[wire] = zero.0;
    }

    /// The zero label of a wire.
    pub fn zero_label(&self, wire: usize) -> GarblerLabel {
        GarblerLabel(self.w.labels[wire])
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
            self.garble_step(step, &plan.gates[pos..pos + n], tables);
            pos += n;
        }
    }

    /// Garbles one step of a schedule: `gates` are exactly the step's gates.
    pub fn garble_step(&mut self, step: Step, gates: &[Gate], tables: &mut Vec<Block>) {
        let delta = self.delta.expose();
        let sdelta = sigma(delta);
        let h = FixedKeyAes::get();
        let first = self.w.gate;
        match step {
            Step::Ands(_) => {
                for (c, chunk) in gates.chunks(SUB).enumerate() {
                    // MMO-σ hashes of A0, A1, B0, B1 (tweaks j, j, j', j'),
                    // computed in one pipelined AES call for the chunk.
                    // σ is linear: σ(X ⊕ Δ) = σ(X) ⊕ σ(Δ).
                    let (x, sg) = (&mut self.w.x, &mut self.w.sg);
                    for (k, gate) in chunk.iter().enumerate() {
                        let Gate::And { a, b, .. } = *gate else {
                            continue;
                        };
                        let (sa, sb) =
                            (sigma(self.w.labels[a.idx()]), sigma(self.w.labels[b.idx()]));
                        let j = Block(and_tweak(self.w.salt, first + (c * SUB + k) as u64));
                        let j1 = Block(j.0 | 1);
                        sg[4 * k..4 * k + 4].copy_from_slice(&[sa, sa ^ sdelta, sb, sb ^ sdelta]);
                        x[4 * k..4 * k + 4].copy_from_slice(&[
                            sa ^ j,
                            sa ^ sdelta ^ j,
                            sb ^ j1,
                            sb ^ sdelta ^ j1,
                        ]);
                    }
                    let used = 4 * chunk.len();
                    h.permute_many(&mut x[..used]);
                    let t0 = tables.len();
                    tables.resize(t0 + 2 * chunk.len(), Block::ZERO);
                    let out_tables = &mut tables[t0..];
                    for (k, gate) in chunk.iter().enumerate() {
                        let Gate::And { a, b, out } = *gate else {
                            continue;
                        };
                        let hs = [
                            x[4 * k] ^ sg[4 * k],
                            x[4 * k + 1] ^ sg[4 * k + 1],
                            x[4 * k + 2] ^ sg[4 * k + 2],
                            x[4 * k + 3] ^ sg[4 * k + 3],
                        ];
                        let (a0, b0) = (self.w.labels[a.idx()], self.w.labels[b.idx()]);
                        let (pa, pb) = (a0.lsb(), b0.lsb());
                        // Generator half: TG = H(A0) ⊕ H(A1) ⊕ pb·Δ, WG0 = H(A0) ⊕ pa·TG.
                        let tg = hs[0] ^ hs[1] ^ delta.and_bit(pb);
                        let wg0 = hs[0] ^ tg.and_bit(pa);
                        // Evaluator half: TE = H(B0) ⊕ H(B1) ⊕ A0, WE0 = H(B0) ⊕ pb·(TE ⊕ A0).
                        let te = hs[2] ^ hs[3] ^ a0;
                        let we0 = hs[2] ^ (te ^ a0).and_bit(pb);
                        self.w.labels[out.idx()] = wg0 ^ we0;
                        out_tables[2 * k] = tg;
                        out_tables[2 * k + 1] = te;
                    }
                }
            }
            Step::Xors(_) => {
                for gate in gates {
                    if let Gate::Xor { a, b, out } = *gate {
                        self.w.labels[out.idx()] = self.w.labels[a.idx()] ^ self.w.labels[b.idx()];
                    }
                }
            }
            Step::Nots(_) => {
                for gate in gates {
                    if let Gate::Not { a, out } = *gate {
                        self.w.labels[out.idx()] = self.w.labels[a.idx()] ^ delta;
                    }
                }
            }
            Step::Consts(_) => {
                for (k, gate) in gates.iter().enumerate() {
                    if let Gate::Const { value, out } = *gate {
                        let public = constant_label(self.w.salt, first + k as u64);
                        self.w.labels[out.idx()] = public ^ delta.and_bit(value);
                    }
                }
            }
        }
        self.w.gate += gates.len() as u64;
    }
}
