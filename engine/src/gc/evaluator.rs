//! The evaluator's engine (ZRE15 figure 2, `Ev`).

use quorate_circuits::Gate;

use super::schedule::{Plan, Step};
use super::{EvaluatorLabel, Wires, and_tweak, constant_label};
use crate::block::Block;
use crate::hash::{FixedKeyAes, sigma};
use crate::net::handshake::SessionId;

/// AND gates hashed per AES call.
const SUB: usize = 128;

/// Evaluates scheduled windows; holds one active label per wire slot.
pub struct Evaluator {
    /// Hash inputs of a sub-batch: two per AND gate.
    w: Wires<{ 2 * SUB }>,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("gate", &self.w.gate)
            .finish_non_exhaustive()
    }
}

/// Tables that do not fit the window they are meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{got} table blocks for a window of {ands} AND gates (expected {expected})")]
pub struct TableMismatch {
    /// AND gates in the window.
    pub ands: usize,
    /// Blocks expected (two per AND gate).
    pub expected: usize,
    /// Blocks given.
    pub got: usize,
}

impl Evaluator {
    /// An evaluator for `slots` wire slots.
    pub fn new(slots: usize, session: &SessionId) -> Self {
        Evaluator {
            w: Wires::new(slots, session),
        }
    }

    /// Starts over for a new run keeping the allocations (see
    /// [`Garbler::reset`](super::Garbler::reset)).
    pub fn reset(&mut self, slots: usize, session: &SessionId) {
        self.w.reset(slots, session);
    }

    /// Sets the active label of an input wire.
    pub fn set_input(&mut self, wire: usize, label: EvaluatorLabel) {
        self.w.labels[wire] = label.0;
    }

    /// The active label of a wire.
    pub fn label(&self, wire: usize) -> EvaluatorLabel {
        EvaluatorLabel(self.w.labels[wire])
    }

    /// Schedules the next window from a prefix of `gates`; returns the gates
    /// it takes and the AND gates among them, whose tables [`execute`]
    /// needs.
    ///
    /// [`execute`]: Self::execute
    pub fn plan(&mut self, gates: &[Gate]) -> (usize, usize) {
        let used = self.w.schedule(gates);
        (used, self.w.plan.ands)
    }

    /// Evaluates the window last [`plan`](Self::plan)ned, with its tables.
    pub fn execute(&mut self, tables: &[Block]) -> Result<(), TableMismatch> {
        let plan = std::mem::take(&mut self.w.plan);
        let r = self.evaluate_plan(&plan, tables);
        self.w.plan = plan;
        r
    }

    /// Evaluates a scheduled window with its tables (two blocks per AND).
    pub fn evaluate_plan(&mut self, plan: &Plan, tables: &[Block]) -> Result<(), TableMismatch> {
        if tables.len() != 2 * plan.ands {
            return Err(TableMismatch {
                ands: plan.ands,
                expected: 2 * plan.ands,
                got: tables.len(),
            });
        }
        let (mut pos, mut t) = (0usize, 0usize);
        for &step in &plan.steps {
            let n = step.len();
            let need = if matches!(step, Step::Ands(_)) {
                2 * n
            } else {
                0
            };
            self.evaluate_step(step, &plan.gates[pos..pos + n], &tables[t..t + need])?;
            pos += n;
            t += need;
        }
        Ok(())
    }

    /// Evaluates one step of a schedule: `gates` are exactly the step's
    /// gates, `tables` their two blocks per AND gate.
    pub fn evaluate_step(
        &mut self,
        step: Step,
        gates: &[Gate],
        tables: &[Block],
    ) -> Result<(), TableMismatch> {
        let h = FixedKeyAes::get();
        let first = self.w.gate;
        match step {
            Step::Ands(_) => {
                if tables.len() != 2 * gates.len() {
                    return Err(TableMismatch {
                        ands: gates.len(),
                        expected: 2 * gates.len(),
                        got: tables.len(),
                    });
                }
                let mut t = 0;
                for (c, chunk) in gates.chunks(SUB).enumerate() {
                    let (x, sg) = (&mut self.w.x, &mut self.w.sg);
                    for (k, gate) in chunk.iter().enumerate() {
                        let Gate::And { a, b, .. } = *gate else {
                            continue;
                        };
                        let (sa, sb) =
                            (sigma(self.w.labels[a.idx()]), sigma(self.w.labels[b.idx()]));
                        let j = and_tweak(self.w.salt, first + (c * SUB + k) as u64);
                        sg[2 * k] = sa;
                        sg[2 * k + 1] = sb;
                        x[2 * k] = sa ^ Block(j);
                        x[2 * k + 1] = sb ^ Block(j | 1);
                    }
                    h.permute_many(&mut x[..2 * chunk.len()]);
                    for (k, gate) in chunk.iter().enumerate() {
                        let Gate::And { a, b, out } = *gate else {
                            continue;
                        };
                        let (wa, wb) = (self.w.labels[a.idx()], self.w.labels[b.idx()]);
                        let (tg, te) = (tables[t], tables[t + 1]);
                        t += 2;
                        // WG = H(Wa) ⊕ sa·TG, WE = H(Wb) ⊕ sb·(TE ⊕ Wa).
                        let wg = x[2 * k] ^ sg[2 * k] ^ tg.and_bit(wa.lsb());
                        let we = x[2 * k + 1] ^ sg[2 * k + 1] ^ (te ^ wa).and_bit(wb.lsb());
                        self.w.labels[out.idx()] = wg ^ we;
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
                        self.w.labels[out.idx()] = self.w.labels[a.idx()];
                    }
                }
            }
            Step::Consts(_) => {
                for (k, gate) in gates.iter().enumerate() {
                    if let Gate::Const { out, .. } = *gate {
                        self.w.labels[out.idx()] = constant_label(self.w.salt, first + k as u64);
                    }
                }
            }
        }
        self.w.gate += gates.len() as u64;
        Ok(())
    }
}
