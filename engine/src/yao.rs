//! Two-party computation with Yao's garbled circuits: the garbler garbles
//! ([`crate::gc`]), the evaluator evaluates, input labels for the evaluator
//! come from correlated OT under the garbler's `Δ` ([`crate::ot::kos`]).
//!
//! Security: semi-honest garbling (Yao; Lindell-Pinkas 2009 for the proof,
//! half-gates by ZRE15) on actively secure OT. Party 0's inputs belong to the
//! garbler, party 1's to the evaluator.
//!
//! Setup runs the base OTs and precomputes random correlated OTs: the
//! garbler holds `q_k`, the evaluator a random bit `r_k` and
//! `t_k = q_k ⊕ r_k·Δ`. A run is then one round trip (Beaver's
//! derandomization of precomputed OT):
//! 1. evaluator → garbler: `d_k = x_k ⊕ r_k` for its input bits `x_k`; its
//!    label for input `k` is `t_k`;
//! 2. garbler: the zero label of evaluator input `k` is `q_k ⊕ d_k·Δ` (so
//!    `t_k` is the label of `x_k`); it sends the active labels of its own
//!    inputs, then the garbled tables window by window as it garbles, then
//!    the decoding bits (the permute bits of the output zero labels) if the
//!    evaluator is to learn the outputs;
//! 3. if the garbler is to learn the outputs, the evaluator sends their
//!    labels back and the garbler checks each is one of the wire's two
//!    labels (an evaluator that lies is caught).
//!
//! Each run has its own tweak salt (the session and a run counter).

use std::time::{Duration, Instant};

use quorate_circuits::{Bits, Input, Interface, PartyId};
use thiserror::Error;

use crate::block::Block;
use crate::gc::schedule::{Op, Plan, ScheduledCircuit, Scheduler, Step};
use crate::gc::{Evaluator, EvaluatorLabel, Garbler, GarblerLabel, GateSource};
use crate::net::handshake::SessionId;
use crate::net::{Channel, NetError, Traffic};
use crate::ot::kos::{KosReceiver, KosSender};
use crate::ot::{OtError, SecretBlocks};
use crate::prg::Prg;

/// Gates per window when garbling a stream.
const WINDOW: usize = 1 << 14;
/// Table blocks the garbler gathers before sending: small, so the evaluator
/// starts while the garbler goes on.
const SEND_BLOCKS: usize = 1 << 11;
/// Random correlated OTs precomputed at a time, at least.
const POOL_BATCH: usize = 1 << 12;

/// Who learns the outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reveal {
    /// Only the evaluator.
    Evaluator,
    /// Only the garbler.
    Garbler,
    /// Both.
    Both,
}

impl Reveal {
    fn evaluator(self) -> bool {
        matches!(self, Reveal::Evaluator | Reveal::Both)
    }

    fn garbler(self) -> bool {
        matches!(self, Reveal::Garbler | Reveal::Both)
    }
}

/// Who learns each output: the same parties for all, or a choice per
/// output (in the interface's order). Both sides must pass the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disclosure {
    /// Every output to the same parties.
    Uniform(Reveal),
    /// One choice per output.
    PerOutput(Vec<Reveal>),
}

impl From<Reveal> for Disclosure {
    fn from(r: Reveal) -> Self {
        Disclosure::Uniform(r)
    }
}

impl Disclosure {
    fn of(&self, output: usize) -> Reveal {
        match self {
            Disclosure::Uniform(r) => *r,
            Disclosure::PerOutput(v) => v.get(output).copied().unwrap_or(Reveal::Both),
        }
    }

    fn check(&self, iface: &Interface) -> Result<(), YaoError> {
        match self {
            Disclosure::PerOutput(v) if v.len() != iface.outputs.len() => {
                Err(YaoError::Inputs(format!(
                    "{} output choices for a circuit of {} outputs",
                    v.len(),
                    iface.outputs.len()
                )))
            }
            _ => Ok(()),
        }
    }

    /// The output bits one side learns: (output, bit) pairs in order.
    fn bits(&self, iface: &Interface, garbler: bool) -> Vec<(usize, usize)> {
        output_bits(iface)
            .into_iter()
            .filter(|&(o, _)| {
                let r = self.of(o);
                if garbler { r.garbler() } else { r.evaluator() }
            })
            .collect()
    }
}

/// Values of the outputs a side learned; `None` for the others.
fn learned(
    iface: &Interface,
    d: &Disclosure,
    garbler: bool,
    values: Vec<Bits>,
) -> Vec<Option<Bits>> {
    values
        .into_iter()
        .enumerate()
        .map(|(o, v)| {
            let r = d.of(o);
            (if garbler { r.garbler() } else { r.evaluator() }).then_some(v)
        })
        .take(iface.outputs.len())
        .collect()
}

/// What to compute: a stored circuit scheduled once, or a gate stream.
pub enum Program<'a> {
    /// A stored circuit, scheduled ahead of the run.
    Scheduled(&'a ScheduledCircuit),
    /// Gates generated as the run goes.
    Stream(&'a mut dyn GateSource),
}

impl Program<'_> {
    fn interface(&self) -> &Interface {
        match self {
            Program::Scheduled(s) => &s.interface,
            Program::Stream(s) => s.interface(),
        }
    }

    fn slots(&self) -> usize {
        match self {
            Program::Scheduled(s) => s.slots,
            Program::Stream(s) => s.slots(),
        }
    }
}

/// Why a run failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum YaoError {
    /// The inputs do not fit the circuit, or the circuit is not for two
    /// parties.
    #[error("{0}")]
    Inputs(String),
    /// The evaluator reported an output label that is not a label of that
    /// output wire: it cheated or the message was corrupted.
    #[error("{peer} returned a forged label for output {output}, bit {bit}")]
    ForgedOutput {
        /// The peer.
        peer: String,
        /// The output.
        output: usize,
        /// The bit.
        bit: usize,
    },
    /// The OT failed.
    #[error(transparent)]
    Ot(#[from] OtError),
    /// The transport failed.
    #[error(transparent)]
    Net(#[from] NetError),
}

impl YaoError {
    /// The misbehaving or unreachable peer, if any.
    pub fn culprit(&self) -> Option<&str> {
        match self {
            YaoError::ForgedOutput { peer, .. } => Some(peer),
            YaoError::Ot(e) => e.culprit(),
            YaoError::Net(e) => e.peer(),
            YaoError::Inputs(_) => None,
        }
    }
}

/// The result of one run, for one party.
#[derive(Debug)]
pub struct Outcome {
    /// Each output's value, if this party learns it.
    pub outputs: Vec<Option<Bits>>,
    /// AND gates garbled or evaluated.
    pub ands: u64,
    /// Bytes this party sent and received during the run.
    pub traffic: Traffic,
    /// Wall time of the run.
    pub time: Duration,
}

impl Outcome {
    /// Every output, if this party learns them all.
    pub fn all_outputs(&self) -> Option<Vec<Bits>> {
        if self.outputs.is_empty() {
            return None;
        }
        self.outputs.iter().cloned().collect()
    }
}

/// Input wires of one role: (first wire, width) per input, in order.
type Spans = Vec<(usize, usize)>;

/// Checks that `iface` has at most two parties: Yao runs between two.
pub fn check_two_parties(iface: &Interface) -> Result<(), YaoError> {
    if iface.parties.len() > 2 {
        return Err(YaoError::Inputs(format!(
            "Yao runs between two parties; this circuit has {}",
            iface.parties.len()
        )));
    }
    Ok(())
}

/// The inputs one role provides, in order: the garbler (party 0) provides
/// the circuit's first party's inputs, the evaluator the second's.
pub fn role_inputs(iface: &Interface, role: PartyId) -> impl Iterator<Item = &Input> {
    let garbler = role == PartyId(0);
    iface
        .inputs
        .iter()
        .filter(move |i| (i.party == PartyId(0)) == garbler)
}

/// The evaluator's input bits: the precomputed OTs one run uses.
pub fn evaluator_input_bits(iface: &Interface) -> usize {
    role_inputs(iface, PartyId(1))
        .map(|i| i.width as usize)
        .sum()
}

/// Wire ranges of the garbler's and the evaluator's inputs, in order.
fn roles(iface: &Interface) -> Result<(Spans, Spans), YaoError> {
    check_two_parties(iface)?;
    let offsets = iface.input_offsets();
    let (mut g, mut e) = (Vec::new(), Vec::new());
    for (k, input) in iface.inputs.iter().enumerate() {
        let span = (offsets[k] as usize, input.width as usize);
        if input.party == PartyId(0) {
            g.push(span);
        } else {
            e.push(span);
        }
    }
    Ok((g, e))
}

fn check_values(
    iface: &Interface,
    mine: PartyId,
    values: &[Bits],
    role: &str,
) -> Result<(), YaoError> {
    let expected: Vec<_> = role_inputs(iface, mine).collect();
    if expected.len() != values.len() {
        return Err(YaoError::Inputs(format!(
            "the {role} provides {} input{}, {} given",
            expected.len(),
            if expected.len() == 1 { "" } else { "s" },
            values.len()
        )));
    }
    for (input, v) in expected.iter().zip(values) {
        if v.width() != input.width as usize {
            return Err(YaoError::Inputs(format!(
                "input `{}` has {} bits, the value given has {}",
                input.name,
                input.width,
                v.width()
            )));
        }
    }
    Ok(())
}

/// (output, bit) for every output bit, in order: the order output labels
/// and decoding bits travel in.
fn output_bits(iface: &Interface) -> Vec<(usize, usize)> {
    iface
        .outputs
        .iter()
        .enumerate()
        .flat_map(|(o, out)| (0..out.wires.len()).map(move |b| (o, b)))
        .collect()
}

/// All-zero values of the right widths, one per output, to decode into.
fn blank_outputs(iface: &Interface) -> Vec<Bits> {
    iface
        .outputs
        .iter()
        .map(|o| Bits::zeros(o.wires.len()))
        .collect()
}

fn run_session(session: &SessionId, run: u64) -> SessionId {
    SessionId::derive("quorate/yao/run", &[&session.0, &run.to_le_bytes()])
}

fn pack(bits: impl Iterator<Item = bool>, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n.div_ceil(8)];
    for (i, b) in bits.enumerate() {
        out[i / 8] |= u8::from(b) << (i % 8);
    }
    out
}

/// One run as both roles see it: its session, its interface split into the
/// two roles' input wires, and what it started from, for the [`Outcome`].
struct Run {
    start: Instant,
    before: Traffic,
    session: SessionId,
    iface: Interface,
    garbler: Spans,
    evaluator: Spans,
    eval_bits: usize,
}

impl Run {
    /// Checks `inputs` for `role` and derives the session of run number
    /// `runs`.
    fn start(
        ch: &Channel,
        program: &Program<'_>,
        role: PartyId,
        inputs: &[Bits],
        session: &SessionId,
        runs: u64,
    ) -> Result<Self, YaoError> {
        let (start, before) = (Instant::now(), ch.traffic());
        let iface = program.interface().clone();
        let (garbler, evaluator) = roles(&iface)?;
        let who = if role == PartyId(0) {
            "garbler"
        } else {
            "evaluator"
        };
        check_values(&iface, role, inputs, who)?;
        Ok(Run {
            start,
            before,
            session: run_session(session, runs),
            eval_bits: evaluator.iter().map(|s| s.1).sum(),
            iface,
            garbler,
            evaluator,
        })
    }

    fn finish(
        self,
        ch: &Channel,
        result: Result<(Vec<Option<Bits>>, u64), YaoError>,
    ) -> Result<Outcome, YaoError> {
        let (outputs, ands) = result?;
        let now = ch.traffic();
        Ok(Outcome {
            outputs,
            ands,
            traffic: Traffic {
                sent: now.sent - self.before.sent,
                received: now.received - self.before.received,
            },
            time: self.start.elapsed(),
        })
    }
}

/// Precomputed random correlated OTs not used yet: the blocks (`q_k` for
/// the garbler, `t_k` for the evaluator) and, for the evaluator, its random
/// choice bits `r_k`.
#[derive(Default)]
struct Pool {
    blocks: SecretBlocks,
    choices: Vec<bool>,
    next: usize,
}

impl Pool {
    fn available(&self) -> usize {
        self.blocks.len() - self.next
    }

    /// How many OTs to precompute before a run needing `need`, if any.
    fn shortfall(&self, need: usize) -> Option<usize> {
        (self.available() < need).then(|| (need - self.available()).max(POOL_BATCH))
    }

    /// Drops the used OTs and appends fresh ones (with their choice bits,
    /// for the evaluator).
    fn refill(&mut self, fresh: &SecretBlocks, choices: &[bool]) {
        let pool = self.blocks.expose_mut();
        pool.drain(..self.next);
        pool.extend_from_slice(fresh.expose());
        self.choices.drain(..self.next.min(self.choices.len()));
        self.choices.extend_from_slice(choices);
        self.next = 0;
    }

    fn block(&self, k: usize) -> Block {
        self.blocks.expose()[self.next + k]
    }

    fn choice(&self, k: usize) -> bool {
        self.choices[self.next + k]
    }

    fn consume(&mut self, n: usize) {
        self.next += n;
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.choices);
    }
}

/// The garbler's side of a two-party session.
pub struct YaoGarbler {
    ot: KosSender,
    engine: Option<Garbler>,
    pool: Pool,
    session: SessionId,
    runs: u64,
}

impl std::fmt::Debug for YaoGarbler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YaoGarbler")
            .field("runs", &self.runs)
            .finish_non_exhaustive()
    }
}

impl YaoGarbler {
    /// Runs the base OTs (the garbler is the OT sender).
    pub fn setup(ch: &mut Channel, session: &SessionId) -> Result<Self, YaoError> {
        Ok(YaoGarbler {
            ot: KosSender::setup(ch, session)?,
            engine: None,
            pool: Pool::default(),
            session: *session,
            runs: 0,
        })
    }

    /// Precomputes `n` more random correlated OTs.
    pub fn precompute(&mut self, ch: &mut Channel, n: usize) -> Result<(), YaoError> {
        let fresh = self.ot.cot(ch, n)?;
        self.pool.refill(&fresh, &[]);
        Ok(())
    }

    /// Garbles `program` with the garbler's `inputs` (party 0's, in order).
    pub fn run(
        &mut self,
        ch: &mut Channel,
        mut program: Program<'_>,
        inputs: &[Bits],
        reveal: impl Into<Disclosure>,
    ) -> Result<Outcome, YaoError> {
        let reveal = reveal.into();
        reveal.check(program.interface())?;
        let run = Run::start(ch, &program, PartyId(0), inputs, &self.session, self.runs)?;
        if let Some(n) = self.pool.shortfall(run.eval_bits) {
            self.precompute(ch, n)?;
        }
        self.runs += 1;
        let mut engine = match self.engine.take() {
            Some(mut g) => {
                g.reset(program.slots(), &run.session);
                g
            }
            None => Garbler::new(self.ot.delta().clone(), program.slots(), &run.session),
        };
        let result = self.garble_with(&mut engine, ch, &mut program, &run, inputs, &reveal);
        self.engine = Some(engine);
        run.finish(ch, result)
    }

    fn garble_with(
        &mut self,
        g: &mut Garbler,
        ch: &mut Channel,
        program: &mut Program<'_>,
        run: &Run,
        inputs: &[Bits],
        reveal: &Disclosure,
    ) -> Result<(Vec<Option<Bits>>, u64), YaoError> {
        let (iface, mine, theirs, eval_bits) =
            (&run.iface, &run.garbler, &run.evaluator, run.eval_bits);
        let d = g.delta().expose();
        // Own inputs: fresh zero labels, active labels to the evaluator.
        let mut prg = Prg::from_entropy().map_err(|e| YaoError::Ot(OtError::Entropy(e)))?;
        let mut active = Vec::new();
        for ((start, width), value) in mine.iter().zip(inputs) {
            for k in 0..*width {
                let zero = prg.block();
                g.set_input(start + k, GarblerLabel::new(zero));
                active.push(zero ^ d.and_bit(value.get(k)));
            }
        }
        ch.send_blocks(&active)?;
        zeroize::Zeroize::zeroize(&mut active);

        // Evaluator inputs: derandomized precomputed OTs.
        let mut dbytes = vec![0u8; eval_bits.div_ceil(8)];
        ch.recv(&mut dbytes)?;
        let mut k = 0;
        for (start, width) in theirs {
            for i in 0..*width {
                let flip = dbytes[k / 8] >> (k % 8) & 1 == 1;
                let q = self.pool.block(k);
                g.set_input(start + i, GarblerLabel::new(q ^ d.and_bit(flip)));
                k += 1;
            }
        }
        self.pool.consume(eval_bits);

        // Garble and stream the tables.
        let mut tables = Vec::with_capacity(SEND_BLOCKS + 2 * WINDOW);
        let mut ands = 0u64;
        let flush =
            |tables: &mut Vec<Block>, ch: &mut Channel, force: bool| -> Result<(), NetError> {
                if force || tables.len() >= SEND_BLOCKS {
                    ch.send_blocks(tables)?;
                    ch.flush()?;
                    tables.clear();
                }
                Ok(())
            };
        match program {
            Program::Scheduled(s) => {
                let mut pos = 0;
                for &step in &s.plan.steps {
                    let n = step.len();
                    g.garble_step(step, &s.plan.ops[pos..pos + n], &mut tables);
                    pos += n;
                    flush(&mut tables, ch, false)?;
                }
                ands = s.plan.ands as u64;
            }
            Program::Stream(src) => {
                let mut buf = Vec::with_capacity(WINDOW);
                loop {
                    let room = WINDOW - buf.len();
                    src.fill(&mut buf, room);
                    if buf.is_empty() {
                        break;
                    }
                    let before = tables.len();
                    let used = g.garble(&buf, &mut tables);
                    ands += ((tables.len() - before) / 2) as u64;
                    buf.drain(..used);
                    flush(&mut tables, ch, false)?;
                }
            }
        }
        flush(&mut tables, ch, true)?;

        // Outputs: decoding bits for those the evaluator learns, then the
        // evaluator's labels of those the garbler learns.
        let to_eval = reveal.bits(iface, false);
        if !to_eval.is_empty() {
            let bits = to_eval
                .iter()
                .map(|&(o, b)| g.zero_label(iface.outputs[o].wires[b].idx()).expose().lsb());
            ch.send(&pack(bits, to_eval.len()))?;
        }
        ch.flush()?;
        let to_garb = reveal.bits(iface, true);
        let mut values = blank_outputs(iface);
        if !to_garb.is_empty() {
            let mut labels = vec![Block::ZERO; to_garb.len()];
            ch.recv_blocks(&mut labels)?;
            for (&(o, b), &label) in to_garb.iter().zip(&labels) {
                let zero = g.zero_label(iface.outputs[o].wires[b].idx()).expose();
                if label == zero {
                    values[o].set(b, false);
                } else if label == zero ^ d {
                    values[o].set(b, true);
                } else {
                    return Err(YaoError::ForgedOutput {
                        peer: ch.peer_name().to_owned(),
                        output: o,
                        bit: b,
                    });
                }
            }
        }
        let outputs = learned(iface, reveal, true, values);
        Ok((outputs, ands))
    }
}

/// The evaluator's side of a two-party session.
pub struct YaoEvaluator {
    ot: KosReceiver,
    engine: Option<Evaluator>,
    pool: Pool,
    session: SessionId,
    runs: u64,
}

impl std::fmt::Debug for YaoEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YaoEvaluator")
            .field("runs", &self.runs)
            .finish_non_exhaustive()
    }
}

impl YaoEvaluator {
    /// Runs the base OTs (the evaluator is the OT receiver).
    pub fn setup(ch: &mut Channel, session: &SessionId) -> Result<Self, YaoError> {
        Ok(YaoEvaluator {
            ot: KosReceiver::setup(ch, session)?,
            engine: None,
            pool: Pool::default(),
            session: *session,
            runs: 0,
        })
    }

    /// Precomputes `n` more random correlated OTs.
    pub fn precompute(&mut self, ch: &mut Channel, n: usize) -> Result<(), YaoError> {
        let bits = Prg::from_entropy()
            .map_err(|e| YaoError::Ot(OtError::Entropy(e)))?
            .bits(n);
        let fresh = self.ot.cot(ch, &bits)?;
        self.pool.refill(&fresh, &bits);
        Ok(())
    }

    /// Evaluates `program` with the evaluator's `inputs` (party 1's, in order).
    pub fn run(
        &mut self,
        ch: &mut Channel,
        mut program: Program<'_>,
        inputs: &[Bits],
        reveal: impl Into<Disclosure>,
    ) -> Result<Outcome, YaoError> {
        let reveal = reveal.into();
        reveal.check(program.interface())?;
        let run = Run::start(ch, &program, PartyId(1), inputs, &self.session, self.runs)?;
        if let Some(n) = self.pool.shortfall(run.eval_bits) {
            self.precompute(ch, n)?;
        }
        self.runs += 1;
        let mut engine = match self.engine.take() {
            Some(mut e) => {
                e.reset(program.slots(), &run.session);
                e
            }
            None => Evaluator::new(program.slots(), &run.session),
        };
        let result = self.evaluate_with(&mut engine, ch, &mut program, &run, inputs, &reveal);
        self.engine = Some(engine);
        run.finish(ch, result)
    }

    fn evaluate_with(
        &mut self,
        e: &mut Evaluator,
        ch: &mut Channel,
        program: &mut Program<'_>,
        run: &Run,
        inputs: &[Bits],
        reveal: &Disclosure,
    ) -> Result<(Vec<Option<Bits>>, u64), YaoError> {
        let (iface, mine, theirs, eval_bits) =
            (&run.iface, &run.evaluator, &run.garbler, run.eval_bits);
        // d = x ⊕ r; our labels are the t's.
        let flat: Vec<bool> = inputs.iter().flat_map(Bits::iter).collect();
        let d = pack(
            flat.iter()
                .enumerate()
                .map(|(k, &x)| x ^ self.pool.choice(k)),
            eval_bits,
        );
        ch.send(&d)?;
        ch.flush()?;
        let mut k = 0;
        for (start, width) in mine {
            for i in 0..*width {
                e.set_input(start + i, EvaluatorLabel::new(self.pool.block(k)));
                k += 1;
            }
        }
        self.pool.consume(eval_bits);

        // The garbler's input labels.
        let garbler_bits: usize = theirs.iter().map(|s| s.1).sum();
        let mut labels = vec![Block::ZERO; garbler_bits];
        ch.recv_blocks(&mut labels)?;
        let mut k = 0;
        for (start, width) in theirs {
            for i in 0..*width {
                e.set_input(start + i, EvaluatorLabel::new(labels[k]));
                k += 1;
            }
        }

        // Evaluate as the tables arrive.
        let mut tables = Vec::new();
        let mut ands = 0u64;
        let mut step_with_tables =
            |e: &mut Evaluator, ch: &mut Channel, step: Step, ops: &[Op]| -> Result<(), YaoError> {
                if let Step::Ands(n) = step {
                    tables.resize(2 * n as usize, Block::ZERO);
                    ch.recv_blocks(&mut tables)?;
                    ands += u64::from(n);
                } else {
                    tables.clear();
                }
                // Counts are computed locally, so a mismatch cannot come from the peer.
                e.evaluate_step(step, ops, &tables)
                    .map_err(|m| YaoError::Inputs(format!("internal: {m}")))
            };
        match program {
            Program::Scheduled(s) => {
                let mut pos = 0;
                for &step in &s.plan.steps {
                    let n = step.len();
                    step_with_tables(e, ch, step, &s.plan.ops[pos..pos + n])?;
                    pos += n;
                }
            }
            Program::Stream(src) => {
                let mut buf = Vec::with_capacity(WINDOW);
                let mut scheduler = Scheduler::new(src.slots());
                let mut plan = Plan::default();
                loop {
                    let room = WINDOW - buf.len();
                    src.fill(&mut buf, room);
                    if buf.is_empty() {
                        break;
                    }
                    let used = scheduler.plan(&buf, &mut plan);
                    let mut pos = 0;
                    for &step in &plan.steps {
                        let n = step.len();
                        step_with_tables(e, ch, step, &plan.ops[pos..pos + n])?;
                        pos += n;
                    }
                    buf.drain(..used);
                }
            }
        }

        // Outputs.
        let to_eval = reveal.bits(iface, false);
        let mut values = blank_outputs(iface);
        if !to_eval.is_empty() {
            let mut decode = vec![0u8; to_eval.len().div_ceil(8)];
            ch.recv(&mut decode)?;
            for (i, &(o, b)) in to_eval.iter().enumerate() {
                let label = e.label(iface.outputs[o].wires[b].idx()).expose();
                values[o].set(b, label.lsb() ^ (decode[i / 8] >> (i % 8) & 1 == 1));
            }
        }
        let outputs = learned(iface, reveal, false, values);
        let to_garb = reveal.bits(iface, true);
        if !to_garb.is_empty() {
            let labels: Vec<Block> = to_garb
                .iter()
                .map(|&(o, b)| e.label(iface.outputs[o].wires[b].idx()).expose())
                .collect();
            ch.send_blocks(&labels)?;
            ch.flush()?;
        }
        Ok((outputs, ands))
    }
}
