//! The garbler's engine (ZRE15 figure 2, `Gb`).

use quorate_circuits::Gate;

use super::schedule::{Plan, Scheduler, Step};
use super::{GarblerLabel, constant_label, tweak_salt};
use crate::block::Block;
use crate::hash::{FixedKeyAes, sigma};
use crate::net::handshake::SessionId;
use crate::ot::Delta;

/// AND gates hashed per AES call: their inputs stay in L1.
const SUB: usize = 64;

/// Garbles scheduled windows; holds `Δ` and each wire slot's zero label.
pub struct Garbler {
    delta: Delta,
    labels: Vec<Block>,
    /// Made on first use: only streamed windows need it.
    scheduler: Option<Scheduler>,
    plan: Plan,
    salt: u128,
    gate: u64,
    /// Hash inputs and σ-images of one sub-batch, reused (and zeroized on drop).
    x: Box<[Block; 4 * SUB]>,
    sg: Box<[Block; 4 * SUB]>,
}

impl std::fmt::Debug for Garbler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Garbler")
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl Drop for Garbler {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.labels);
        zeroize::Zeroize::zeroize(&mut self.x[..]);
        zeroize::Zeroize::zeroize(&mut self.sg[..]);
    }
}

impl Garbler {
    /// A garbler with global offset `delta` (lsb 1) for `slots` wire slots.
    pub fn new(delta: Delta, slots: usize, session: &SessionId) -> Self {
        Garbler {
            delta,
            labels: vec![Block::ZERO; slots],
            scheduler: None,
            plan: Plan::default(),
            salt: tweak_salt(session),
            gate: 0,
            x: Box::new([Block::ZERO; 4 * SUB]),
            sg: Box::new([Block::ZERO; 4 * SUB]),
        }
    }

    /// Starts over for a new run (a new session, `slots` wire slots) keeping
    /// the allocations. Labels are not cleared: every wire is written before
    /// it is read.
    pub fn reset(&mut self, slots: usize, session: &SessionId) {
        self.labels.resize(slots, Block::ZERO);
        self.scheduler = None;
        self.salt = tweak_salt(session);
        self.gate = 0;
    }

    /// Sets the zero label of an input wire.
    pub fn set_input(&mut self, wire: usize, zero: GarblerLabel) {
        self.labels[wire] = zero.0;
    }

    /// The zero label of a wire.
    pub fn zero_label(&self, wire: usize) -> GarblerLabel {
        GarblerLabel(self.labels[wire])
    }

    /// The global offset.
    pub fn delta(&self) -> &Delta {
        &self.delta
    }

    /// Schedules and garbles a prefix of `gates` (see [`Scheduler::plan`]),
    /// appending two blocks per AND gate to `tables`; returns the number of
    /// gates taken.
    pub fn garble(&mut self, gates: &[Gate], tables: &mut Vec<Block>) -> usize {
        let mut plan = std::mem::take(&mut self.plan);
        let slots = self.labels.len();
        let used = self
            .scheduler
            .get_or_insert_with(|| Scheduler::new(slots))
            .plan(gates, &mut plan);
        self.garble_plan(&plan, tables);
        self.plan = plan;
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
        let first = self.gate;
        match step {
            Step::Ands(_) => {
                for (c, chunk) in gates.chunks(SUB).enumerate() {
                    // MMO-σ hashes of A0, A1, B0, B1 (tweaks j, j, j', j'),
                    // computed in one pipelined AES call for the chunk.
                    // σ is linear: σ(X ⊕ Δ) = σ(X) ⊕ σ(Δ).
                    let (x, sg) = (&mut self.x, &mut self.sg);
                    for (k, gate) in chunk.iter().enumerate() {
                        let Gate::And { a, b, .. } = *gate else {
                            continue;
                        };
                        let (sa, sb) = (sigma(self.labels[a.idx()]), sigma(self.labels[b.idx()]));
                        let j = Block(self.salt | u128::from(first + (c * SUB + k) as u64) << 1);
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
                        let (a0, b0) = (self.labels[a.idx()], self.labels[b.idx()]);
                        let (pa, pb) = (a0.lsb(), b0.lsb());
                        // Generator half: TG = H(A0) ⊕ H(A1) ⊕ pb·Δ, WG0 = H(A0) ⊕ pa·TG.
                        let tg = hs[0] ^ hs[1] ^ delta.and_bit(pb);
                        let wg0 = hs[0] ^ tg.and_bit(pa);
                        // Evaluator half: TE = H(B0) ⊕ H(B1) ⊕ A0, WE0 = H(B0) ⊕ pb·(TE ⊕ A0).
                        let te = hs[2] ^ hs[3] ^ a0;
                        let we0 = hs[2] ^ (te ^ a0).and_bit(pb);
                        self.labels[out.idx()] = wg0 ^ we0;
                        out_tables[2 * k] = tg;
                        out_tables[2 * k + 1] = te;
                    }
                }
            }
            Step::Xors(_) => {
                for gate in gates {
                    if let Gate::Xor { a, b, out } = *gate {
                        self.labels[out.idx()] = self.labels[a.idx()] ^ self.labels[b.idx()];
                    }
                }
            }
            Step::Nots(_) => {
                for gate in gates {
                    if let Gate::Not { a, out } = *gate {
                        self.labels[out.idx()] = self.labels[a.idx()] ^ delta;
                    }
                }
            }
            Step::Consts(_) => {
                for (k, gate) in gates.iter().enumerate() {
                    if let Gate::Const { value, out } = *gate {
                        let public = constant_label(self.salt, first + k as u64);
                        self.labels[out.idx()] = public ^ delta.and_bit(value);
                    }
                }
            }
        }
        self.gate += gates.len() as u64;
    }
}
