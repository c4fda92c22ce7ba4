//! The evaluator's engine (ZRE15 figure 2, `Ev`).

use quorate_circuits::Gate;

use super::schedule::{Op, Plan, Step};
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
        self.w.set_label(wire, label.0);
    }

    /// The active label of a wire.
    pub fn label(&self, wire: usize) -> EvaluatorLabel {
        EvaluatorLabel(self.w.label(wire))
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
            self.evaluate_step(step, &plan.ops[pos..pos + n], &tables[t..t + need])?;
            pos += n;
            t += need;
        }
        Ok(())
    }

    /// Evaluates one step of a schedule: `ops` are exactly the step's
    /// gates (on slots below the evaluator's slot count, as for the
    /// garbler), `tables` their two blocks per AND gate.
    pub fn evaluate_step(
        &mut self,
        step: Step,
        ops: &[Op],
        tables: &[Block],
    ) -> Result<(), TableMismatch> {
        let first = self.w.gate;
        // Slots are below the (power of two) length: see the garbler.
        let m = self.w.labels.len() - 1;
        let l = &mut self.w.labels[..];
        match step {
            Step::Ands(_) => {
                if tables.len() != 2 * ops.len() {
                    return Err(TableMismatch {
                        ands: ops.len(),
                        expected: 2 * ops.len(),
                        got: tables.len(),
                    });
                }
                let h = FixedKeyAes::get();
                let x = &mut self.w.x[..];
                for (c, (chunk, tables)) in ops.chunks(SUB).zip(tables.chunks(2 * SUB)).enumerate()
                {
                    let x = &mut x[..2 * chunk.len()];
                    let mut j0 = Block(and_tweak(self.w.salt, first + (c * SUB) as u64));
                    let mut j1 = j0.add_low(1);
                    for (op, x) in chunk.iter().zip(x.chunks_exact_mut(2)) {
                        let (sa, sb) = (sigma(l[op.a as usize & m]), sigma(l[op.b as usize & m]));
                        x[0] = sa ^ j0;
                        x[1] = sb ^ j1;
                        (j0, j1) = (j0.add_low(2), j1.add_low(2));
                    }
                    h.permute_many(x);
                    for ((op, x), t) in chunk
                        .iter()
                        .zip(x.chunks_exact(2))
                        .zip(tables.chunks_exact(2))
                    {
                        let (wa, wb) = (l[op.a as usize & m], l[op.b as usize & m]);
                        // H(Wa) = x0 ⊕ σ(Wa), H(Wb) = x1 ⊕ σ(Wb);
                        // WG = H(Wa) ⊕ sa·TG, WE = H(Wb) ⊕ sb·(TE ⊕ Wa).
                        let wg = x[0] ^ sigma(wa) ^ (t[0] & wa.lsb_mask());
                        let we = x[1] ^ sigma(wb) ^ ((t[1] ^ wa) & wb.lsb_mask());
                        l[op.out as usize & m] = wg ^ we;
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
                    l[op.out as usize & m] = l[op.a as usize & m];
                }
            }
            Step::Consts(_) => {
                for (k, op) in ops.iter().enumerate() {
                    l[op.out as usize & m] = constant_label(self.w.salt, first + k as u64);
                }
            }
        }
        self.w.gate += ops.len() as u64;
        Ok(())
    }
}
