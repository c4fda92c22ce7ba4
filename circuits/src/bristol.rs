//! Bristol circuit files: a reader for Bristol Fashion and for the older
//! Bristol format, and a Bristol Fashion writer.
//!
//! # Bristol Fashion
//! ```text
//! <gates> <wires>
//! <number of inputs> <width of each>
//! <number of outputs> <width of each>
//!
//! <in> <out> <input wires...> <output wires...> <XOR|AND|INV|EQ|EQW|MAND>
//! ```
//! Inputs occupy the first wires in order and outputs the last wires. `EQ`
//! sets a wire to a constant (`1 1 <0|1> <wire> EQ`), `EQW` copies a wire,
//! `MAND` is `m` AND gates in one line (`2m m <a...> <b...> <out...> MAND`).
//! Values are integers: bit `k` (least significant first) is wire `k` of the
//! value, so the CLI's big-endian hex is the byte string FIPS-197 writes.
//!
//! # Old Bristol format
//! ```text
//! <gates> <wires>
//! <bits of input 1> <bits of input 2> <bits of output>
//!
//! <in> <out> <input wires...> <output wires...> <XOR|AND|INV>
//! ```
//! Files in this format disagree on bit order: most (the AES, SHA-1 and
//! SHA-256 circuits) number wires from the most significant bit of the first
//! byte ([`BitOrder::MsbFirst`], the default for this format), some (the
//! 32-bit adder) from the least significant bit ([`BitOrder::LsbFirst`]).
//!
//! # What the reader does
//! It reads line by line and sends each gate to a [`GateSink`] as soon as it
//! is read, renumbering wires into the IR's normal form: inputs first (in
//! the IR's least-significant-first order whatever the file's bit order),
//! then one wire per gate. `EQW` becomes an alias of its source, `MAND` its
//! AND gates, `EQ` a constant gate. It checks every line: a malformed file
//! gets a [`BristolError`] naming the line and what is wrong. Memory grows
//! with the gates actually read; the input and output widths a header
//! claims are checked against the size of the file before anything is
//! allocated for them.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::path::Path;

use thiserror::Error;

use crate::circuit::{
    Circuit, CircuitError, Gate, GateKind, GateSink, Input, Interface, Output, Party, PartyId, Wire,
};

/// Which Bristol format.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Format {
    /// Bristol Fashion (SCALE-MAMBA, 2019 on): XOR, AND, INV, EQ, EQW, MAND.
    Fashion,
    /// The older Bristol format: two inputs, one output, XOR, AND, INV.
    Old,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Fashion => "Bristol Fashion",
            Format::Old => "old Bristol format",
        })
    }
}

/// How a file numbers the bits of each input and output value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BitOrder {
    /// The value's least significant bit is its first wire (Bristol Fashion).
    LsbFirst,
    /// The most significant bit of the first byte is the first wire (most
    /// old-format files).
    MsbFirst,
}

/// How to read a file. The defaults detect the format and use its usual bit
/// order.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ReadOptions {
    /// Force a format instead of detecting it from the header.
    pub format: Option<Format>,
    /// Force a bit order (the default: LSB first for Bristol Fashion, MSB
    /// first for the old format).
    pub bit_order: Option<BitOrder>,
    /// The most wires a header may declare (default: 2^32 - 2). Memory does
    /// not depend on it: the reader allocates for the gates it reads, and
    /// checks the declared input and output bits against the size of the
    /// file before allocating for them.
    pub max_wires: Option<u64>,
}

/// Gate lines of a file, by the file's own gate names.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SourceGates {
    /// XOR lines.
    pub xor: u64,
    /// AND lines.
    pub and: u64,
    /// INV lines.
    pub inv: u64,
    /// EQ lines (constants).
    pub eq: u64,
    /// EQW lines (copies, resolved as aliases).
    pub eqw: u64,
    /// MAND lines.
    pub mand: u64,
    /// AND gates inside MAND lines.
    pub mand_ands: u64,
}

/// A circuit read from a file, with what the file said about itself.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The circuit, in normal form.
    pub circuit: Circuit,
    /// The file's format.
    pub format: Format,
    /// The bit order the values were read with.
    pub bit_order: BitOrder,
    /// The file's gate lines by kind.
    pub source_gates: SourceGates,
}

/// What the reader learnt besides the gates.
#[derive(Clone, Debug)]
pub struct Header {
    /// Parties, inputs and outputs, as in the IR.
    pub interface: Interface,
    /// The format read.
    pub format: Format,
    /// The bit order used.
    pub bit_order: BitOrder,
    /// The file's gate lines by kind.
    pub source_gates: SourceGates,
}

/// Why a Bristol file could not be read. Every variant but [`Io`](Self::Io)
/// names the line.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BristolError {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file is malformed at `line` (1-based).
    #[error("line {line}: {kind}")]
    Malformed {
        /// The line.
        line: u64,
        /// What is wrong.
        kind: Malformed,
    },
}

impl BristolError {
    /// The kind of malformation, if this is one.
    pub fn malformed(&self) -> Option<&Malformed> {
        match self {
            BristolError::Malformed { kind, .. } => Some(kind),
            BristolError::Io(_) => None,
        }
    }

    /// The line, if the error has one.
    pub fn line(&self) -> Option<u64> {
        match self {
            BristolError::Malformed { line, .. } => Some(*line),
            BristolError::Io(_) => None,
        }
    }
}

/// What is wrong with a line of a Bristol file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Malformed {
    /// No header.
    #[error("the file is empty; a Bristol circuit starts with `<gates> <wires>`")]
    Empty,
    /// The file ends inside the header.
    #[error("the file ends inside the header; expected {0}")]
    TruncatedHeader(&'static str),
    /// A header line has the wrong shape.
    #[error("expected {expected}, found `{found}`")]
    Header {
        /// What the line should hold.
        expected: &'static str,
        /// The line.
        found: String,
    },
    /// A field is not a number.
    #[error("`{token}` is not a valid {what}")]
    Number {
        /// The field.
        token: String,
        /// What it should be.
        what: &'static str,
    },
    /// A count does not match the list that follows it.
    #[error("the line declares {declared} {what} but lists {listed}")]
    Count {
        /// `input widths`, `output widths`.
        what: &'static str,
        /// The count.
        declared: u64,
        /// The items listed.
        listed: u64,
    },
    /// An input or output of width 0.
    #[error("{what} {index} has width 0")]
    ZeroWidth {
        /// `input` or `output`.
        what: &'static str,
        /// Its position.
        index: usize,
    },
    /// The header declares more wires than allowed.
    #[error("the header declares {declared} wires; at most {limit} are supported")]
    TooManyWires {
        /// Declared wires.
        declared: u64,
        /// The limit ([`ReadOptions::max_wires`]).
        limit: u64,
    },
    /// More inputs than parties can be numbered.
    #[error("{0} inputs; at most 65535 are supported")]
    TooManyInputs(usize),
    /// The header declares more input and output bits than the file could use.
    #[error(
        "the header declares {bits} input and output bits, more than a file of {bytes} bytes can use (at most 8 per byte, or {SMALL_FILE_BITS} in all)"
    )]
    WidthsExceedContent {
        /// Declared input plus output bits.
        bits: u64,
        /// Bytes of non-blank lines in the file.
        bytes: u64,
    },
    /// Inputs or outputs need more wires than the header declares.
    #[error("the {what} need {bits} wires but the header declares only {wires}")]
    WidthsExceedWires {
        /// `inputs` or `outputs`.
        what: &'static str,
        /// Their total width.
        bits: u64,
        /// Declared wires.
        wires: u64,
    },
    /// A gate line's field count disagrees with its declared arity.
    #[error(
        "a gate with {} and {} has {expected} fields, found {found}",
        plural(*inputs, "input"),
        plural(*outputs, "output")
    )]
    Fields {
        /// Declared inputs.
        inputs: u64,
        /// Declared outputs.
        outputs: u64,
        /// Fields expected.
        expected: u64,
        /// Fields found.
        found: u64,
    },
    /// An unknown gate name.
    #[error("unknown gate `{name}`; {format} gates are {known}")]
    UnknownGate {
        /// The name.
        name: String,
        /// The format being read.
        format: Format,
        /// The gates that format has.
        known: &'static str,
    },
    /// A gate with the wrong number of inputs or outputs.
    #[error(
        "{gate} takes {expected}, found {} and {}",
        plural(*inputs, "input"),
        plural(*outputs, "output")
    )]
    Arity {
        /// The gate name.
        gate: &'static str,
        /// What it takes.
        expected: &'static str,
        /// Inputs found.
        inputs: u64,
        /// Outputs found.
        outputs: u64,
    },
    /// `EQ` with an input other than 0 or 1.
    #[error("EQ sets a wire to a constant 0 or 1, found `{0}`")]
    BadConstant(String),
    /// A wire number at or past the declared count.
    #[error("wire {wire} is out of range: the header declares {wires} wires (0 to {})", wires.saturating_sub(1))]
    WireOutOfRange {
        /// The wire.
        wire: u64,
        /// Declared wires.
        wires: u64,
    },
    /// A gate reads a wire no input or earlier gate drives.
    #[error("the gate reads wire {0}, which is not an input and which no earlier gate drives")]
    UndrivenRead(u64),
    /// A gate drives an input wire.
    #[error("the gate drives wire {0}, which is an input wire")]
    DrivesInput(u64),
    /// A gate drives a wire already driven.
    #[error("the gate drives wire {0}, which an earlier gate already drives")]
    DrivenTwice(u64),
    /// More gate lines than declared.
    #[error("more gates than the {0} the header declares")]
    TooManyGates(u64),
    /// Fewer gate lines than declared.
    #[error("the file ends after {found} gates; the header declares {declared}")]
    TooFewGates {
        /// Declared gates.
        declared: u64,
        /// Gate lines read.
        found: u64,
    },
    /// An output wire no gate drives.
    #[error("output {output} bit {bit} is wire {wire}, which no gate drives")]
    OutputUndriven {
        /// The output.
        output: usize,
        /// The bit of that output (in the file's order).
        bit: u64,
        /// The wire.
        wire: u64,
    },
    /// A line longer than [`MAX_LINE`] bytes.
    #[error("the line is longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// A line that is not UTF-8 text.
    #[error("the line is not text")]
    NotText,
    /// The circuit needs more than 2^32 - 1 wires after renumbering.
    #[error("the circuit needs more than 2^32 - 1 wires")]
    CircuitTooLarge,
    /// The circuit read is not well formed (should not happen: the reader
    /// checks everything first).
    #[error("{0}")]
    Circuit(CircuitError),
}

fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The longest line the reader accepts: 1 MiB.
pub const MAX_LINE: usize = 1 << 20;

/// Input and output bits any file may declare; beyond this, eight per byte
/// of the file's non-blank lines.
const SMALL_FILE_BITS: u64 = 1 << 20;
const UNMAPPED: u32 = u32::MAX;

fn malformed(line: u64, kind: Malformed) -> BristolError {
    BristolError::Malformed { line, kind }
}

/// Reads lines, skipping blank ones, with a bounded length.
struct Lines<R> {
    reader: R,
    buf: String,
    line: u64,
    /// The last non-blank line read: where errors found at the end point.
    last: u64,
    /// Bytes of the non-blank lines read.
    content: u64,
}

impl<R: BufRead> Lines<R> {
    fn new(reader: R) -> Self {
        Self {
            reader,
            buf: String::new(),
            line: 0,
            last: 1,
            content: 0,
        }
    }

    /// Loads the next non-blank line into `buf`; false at the end.
    fn next(&mut self) -> Result<bool, BristolError> {
        loop {
            self.buf.clear();
            self.line += 1;
            let limit = MAX_LINE as u64 + 1;
            let n = match (&mut self.reader).take(limit).read_line(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    return Err(malformed(self.line, Malformed::NotText));
                }
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return Ok(false);
            }
            if n > MAX_LINE && !self.buf.ends_with('\n') {
                return Err(malformed(self.line, Malformed::LineTooLong));
            }
            if !self.buf.trim().is_empty() {
                self.last = self.line;
                self.content += n as u64;
                return Ok(true);
            }
        }
    }

    fn tokens(&self) -> Vec<String> {
        self.buf
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect()
    }
}

fn number(line: u64, token: &str, what: &'static str) -> Result<u64, BristolError> {
    token.parse::<u64>().map_err(|_| {
        malformed(
            line,
            Malformed::Number {
                token: token.to_owned(),
                what,
            },
        )
    })
}

fn all_numbers(tokens: &[String]) -> Option<Vec<u64>> {
    tokens.iter().map(|t| t.parse::<u64>().ok()).collect()
}

/// Parses a header line `n w_1 ... w_n` (Bristol Fashion inputs or outputs).
fn width_list(line: u64, tokens: &[String], what: &'static str) -> Result<Vec<u64>, BristolError> {
    let Some(first) = tokens.first() else {
        return Err(malformed(line, Malformed::TruncatedHeader(what)));
    };
    let declared = number(line, first, "count")?;
    let widths = tokens[1..]
        .iter()
        .map(|t| number(line, t, "width"))
        .collect::<Result<Vec<_>, _>>()?;
    if widths.len() as u64 != declared {
        return Err(malformed(
            line,
            Malformed::Count {
                what,
                declared,
                listed: widths.len() as u64,
            },
        ));
    }
    Ok(widths)
}

/// The renumbering state: where each file wire lives in the IR.
struct Renumber {
    input_bits: u64,
    wires: u64,
    bit_order: BitOrder,
    /// First file wire and width of each input (one entry per input, not per bit).
    input_spans: Vec<(u64, u64)>,
    /// IR wire of driven non-input file wires, indexed by `file - input_bits`,
    /// for the slots below `dense.len()`; it grows with the gates read, so a
    /// header or a single far-away wire number cannot inflate it.
    dense: Vec<u32>,
    /// The same for slots past `dense`.
    sparse: HashMap<u64, u32>,
    next: u64,
}

impl Renumber {
    fn check_range(&self, line: u64, f: u64) -> Result<(), BristolError> {
        if f >= self.wires {
            return Err(malformed(
                line,
                Malformed::WireOutOfRange {
                    wire: f,
                    wires: self.wires,
                },
            ));
        }
        Ok(())
    }

    fn resolve(&self, f: u64) -> Option<u32> {
        if f < self.input_bits {
            return Some(match self.bit_order {
                BitOrder::LsbFirst => f as u32,
                BitOrder::MsbFirst => {
                    let j = self.input_spans.partition_point(|&(start, _)| start <= f) - 1;
                    let (start, width) = self.input_spans[j];
                    (start + width - 1 - (f - start)) as u32
                }
            });
        }
        let slot = f - self.input_bits;
        match self.dense.get(slot as usize) {
            Some(&w) if w != UNMAPPED => Some(w),
            _ => self.sparse.get(&slot).copied(),
        }
    }

    fn read(&self, line: u64, token: &str) -> Result<Wire, BristolError> {
        let f = number(line, token, "wire number")?;
        self.check_range(line, f)?;
        self.resolve(f)
            .map(Wire::new)
            .ok_or_else(|| malformed(line, Malformed::UndrivenRead(f)))
    }

    /// Checks that `token` names a wire this gate may drive; returns its slot.
    fn target(&mut self, line: u64, token: &str, gates_read: u64) -> Result<u64, BristolError> {
        let f = number(line, token, "wire number")?;
        self.check_range(line, f)?;
        if f < self.input_bits {
            return Err(malformed(line, Malformed::DrivesInput(f)));
        }
        if self.resolve(f).is_some() {
            return Err(malformed(line, Malformed::DrivenTwice(f)));
        }
        let slot = f - self.input_bits;
        let dense_cap = gates_read.saturating_mul(4).saturating_add(1 << 16);
        if slot >= self.dense.len() as u64 && slot < dense_cap {
            self.dense.resize(slot as usize + 1, UNMAPPED);
        }
        Ok(slot)
    }

    fn bind(&mut self, slot: u64, ir: u32) {
        match self.dense.get_mut(slot as usize) {
            Some(w) => *w = ir,
            None => {
                self.sparse.insert(slot, ir);
            }
        }
    }

    fn fresh(&mut self, line: u64) -> Result<Wire, BristolError> {
        let w = self.next;
        if w >= u64::from(u32::MAX) {
            return Err(malformed(line, Malformed::CircuitTooLarge));
        }
        self.next += 1;
        Ok(Wire::new(w as u32))
    }
}

/// Maps position `k` (IR order, least significant first) of a `width`-bit
/// value to its position in the file.
fn file_position(order: BitOrder, k: u64, width: u64) -> u64 {
    match order {
        BitOrder::LsbFirst => k,
        BitOrder::MsbFirst => width - 1 - k,
    }
}

/// Reads a circuit from `reader`, sending each gate to `sink` as it is read.
/// On error the sink may hold some gates already.
pub fn read_into<R: BufRead, S: GateSink>(
    reader: R,
    options: &ReadOptions,
    sink: &mut S,
) -> Result<Header, BristolError> {
    let mut lines = Lines::new(reader);

    // Line 1: <gates> <wires>
    if !lines.next()? {
        return Err(malformed(1, Malformed::Empty));
    }
    let l1 = lines.line;
    let t1 = lines.tokens();
    if t1.len() != 2 {
        return Err(malformed(
            l1,
            Malformed::Header {
                expected: "`<gates> <wires>`",
                found: lines.buf.trim().to_owned(),
            },
        ));
    }
    let declared_gates = number(l1, &t1[0], "gate count")?;
    let wires = number(l1, &t1[1], "wire count")?;

    // Line 2, and line 3 to tell the formats apart.
    if !lines.next()? {
        return Err(malformed(
            lines.line,
            Malformed::TruncatedHeader("the inputs line"),
        ));
    }
    let (l2, t2) = (lines.line, lines.tokens());
    let have3 = lines.next()?;
    let (l3, t3) = (lines.line, if have3 { lines.tokens() } else { Vec::new() });
    // Bristol Fashion's third line lists the outputs, all numbers; the old
    // format's third line is already a gate, which ends with its name.
    let format = options
        .format
        .unwrap_or(if have3 && all_numbers(&t3).is_some() {
            Format::Fashion
        } else {
            Format::Old
        });
    let bit_order = options.bit_order.unwrap_or(match format {
        Format::Fashion => BitOrder::LsbFirst,
        Format::Old => BitOrder::MsbFirst,
    });

    let (input_widths, output_widths, pending_gate_line) = match format {
        Format::Fashion => {
            if !have3 {
                return Err(malformed(
                    l3,
                    Malformed::TruncatedHeader("the outputs line"),
                ));
            }
            (
                width_list(l2, &t2, "input widths")?,
                width_list(l3, &t3, "output widths")?,
                false,
            )
        }
        Format::Old => {
            if t2.len() != 3 {
                return Err(malformed(
                    l2,
                    Malformed::Header {
                        expected: "`<input 1 bits> <input 2 bits> <output bits>` (old Bristol format)",
                        found: t2.join(" "),
                    },
                ));
            }
            let n1 = number(l2, &t2[0], "input width")?;
            let n2 = number(l2, &t2[1], "input width")?;
            let n3 = number(l2, &t2[2], "output width")?;
            let inputs: Vec<u64> = [n1, n2].into_iter().filter(|&w| w > 0).collect();
            (inputs, vec![n3], have3)
        }
    };
    for (what, widths) in [("input", &input_widths), ("output", &output_widths)] {
        if let Some(index) = widths.iter().position(|&w| w == 0) {
            let line = if what == "input" {
                l2
            } else if format == Format::Fashion {
                l3
            } else {
                l2
            };
            return Err(malformed(line, Malformed::ZeroWidth { what, index }));
        }
    }
    let input_bits = input_widths.iter().try_fold(0u64, |a, &w| a.checked_add(w));
    let output_bits = output_widths
        .iter()
        .try_fold(0u64, |a, &w| a.checked_add(w));
    let limit = options
        .max_wires
        .unwrap_or(u64::MAX)
        .min(u64::from(u32::MAX) - 1);
    if wires > limit {
        return Err(malformed(
            l1,
            Malformed::TooManyWires {
                declared: wires,
                limit,
            },
        ));
    }
    if input_widths.len() > usize::from(u16::MAX) {
        return Err(malformed(l2, Malformed::TooManyInputs(input_widths.len())));
    }
    for (what, bits, line) in [
        ("inputs", input_bits, l2),
        (
            "outputs",
            output_bits,
            if format == Format::Fashion { l3 } else { l2 },
        ),
    ] {
        match bits {
            Some(b) if b <= wires => {}
            _ => {
                return Err(malformed(
                    line,
                    Malformed::WidthsExceedWires {
                        what,
                        bits: bits.unwrap_or(u64::MAX),
                        wires,
                    },
                ));
            }
        }
    }
    let input_bits = input_bits.unwrap_or(0);
    let output_bits = output_bits.unwrap_or(0);

    // Input file wires map to IR wires 0..input_bits, reordered within each
    // value to least significant first (see `Renumber::resolve`).
    let mut input_spans = Vec::with_capacity(input_widths.len());
    let mut start = 0u64;
    for &w in &input_widths {
        input_spans.push((start, w));
        start += w;
    }
    let mut rn = Renumber {
        input_bits,
        wires,
        bit_order,
        input_spans,
        dense: Vec::new(),
        sparse: HashMap::new(),
        next: input_bits,
    };

    let known = match format {
        Format::Fashion => "XOR, AND, INV, EQ, EQW, MAND",
        Format::Old => "XOR, AND, INV",
    };
    let mut src = SourceGates::default();
    let mut gates_read = 0u64;
    let mut have_line = pending_gate_line;
    loop {
        if !have_line && !lines.next()? {
            break;
        }
        have_line = false;
        let line = lines.line;
        if gates_read == declared_gates {
            return Err(malformed(line, Malformed::TooManyGates(declared_gates)));
        }
        gates_read += 1;
        let tokens: Vec<&str> = lines.buf.split_ascii_whitespace().collect();
        let nin = number(line, tokens[0], "input count")?;
        let nout = match tokens.get(1) {
            Some(t) => number(line, t, "output count")?,
            None => {
                return Err(malformed(
                    line,
                    Malformed::Fields {
                        inputs: nin,
                        outputs: 0,
                        expected: nin.saturating_add(3),
                        found: 1,
                    },
                ));
            }
        };
        let expected = nin.saturating_add(nout).saturating_add(3);
        if tokens.len() as u64 != expected {
            return Err(malformed(
                line,
                Malformed::Fields {
                    inputs: nin,
                    outputs: nout,
                    expected,
                    found: tokens.len() as u64,
                },
            ));
        }
        let ins = &tokens[2..2 + nin as usize];
        let outs = &tokens[2 + nin as usize..2 + (nin + nout) as usize];
        let name = tokens[tokens.len() - 1];
        let arity = |gate: &'static str, expected: &'static str, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(malformed(
                    line,
                    Malformed::Arity {
                        gate,
                        expected,
                        inputs: nin,
                        outputs: nout,
                    },
                ))
            }
        };
        let fashion = format == Format::Fashion;
        match name {
            "XOR" | "AND" => {
                let (gate, kind) = if name == "XOR" {
                    ("XOR", GateKind::Xor)
                } else {
                    ("AND", GateKind::And)
                };
                arity(gate, "2 inputs and 1 output", nin == 2 && nout == 1)?;
                let a = rn.read(line, ins[0])?;
                let b = rn.read(line, ins[1])?;
                let slot = rn.target(line, outs[0], gates_read)?;
                let out = rn.fresh(line)?;
                rn.bind(slot, out.index());
                if kind == GateKind::Xor {
                    src.xor += 1;
                    sink.push(Gate::Xor { a, b, out });
                } else {
                    src.and += 1;
                    sink.push(Gate::And { a, b, out });
                }
            }
            "INV" => {
                arity("INV", "1 input and 1 output", nin == 1 && nout == 1)?;
                let a = rn.read(line, ins[0])?;
                let slot = rn.target(line, outs[0], gates_read)?;
                let out = rn.fresh(line)?;
                rn.bind(slot, out.index());
                src.inv += 1;
                sink.push(Gate::Not { a, out });
            }
            "EQ" if fashion => {
                arity(
                    "EQ",
                    "1 input (a constant) and 1 output",
                    nin == 1 && nout == 1,
                )?;
                let value = match ins[0] {
                    "0" => false,
                    "1" => true,
                    other => return Err(malformed(line, Malformed::BadConstant(other.to_owned()))),
                };
                let slot = rn.target(line, outs[0], gates_read)?;
                let out = rn.fresh(line)?;
                rn.bind(slot, out.index());
                src.eq += 1;
                sink.push(Gate::Const { value, out });
            }
            "EQW" if fashion => {
                arity("EQW", "1 input and 1 output", nin == 1 && nout == 1)?;
                let a = rn.read(line, ins[0])?;
                let slot = rn.target(line, outs[0], gates_read)?;
                rn.bind(slot, a.index());
                src.eqw += 1;
            }
            "MAND" if fashion => {
                arity(
                    "MAND",
                    "2m inputs and m outputs, m >= 1",
                    nout >= 1 && nin == 2 * nout,
                )?;
                let m = nout as usize;
                let mut pairs = Vec::with_capacity(m);
                for i in 0..m {
                    pairs.push((rn.read(line, ins[i])?, rn.read(line, ins[m + i])?));
                }
                let mut slots = Vec::with_capacity(m);
                for t in outs {
                    let slot = rn.target(line, t, gates_read)?;
                    // Reserve now so a repeated output in the same line is caught.
                    rn.bind(slot, 0);
                    slots.push(slot);
                }
                for ((a, b), slot) in pairs.into_iter().zip(slots) {
                    let out = rn.fresh(line)?;
                    rn.bind(slot, out.index());
                    sink.push(Gate::And { a, b, out });
                }
                src.mand += 1;
                src.mand_ands += nout;
            }
            other => {
                return Err(malformed(
                    line,
                    Malformed::UnknownGate {
                        name: other.to_owned(),
                        format,
                        known,
                    },
                ));
            }
        }
    }
    if gates_read < declared_gates {
        return Err(malformed(
            lines.last,
            Malformed::TooFewGates {
                declared: declared_gates,
                found: gates_read,
            },
        ));
    }

    // Inputs and outputs are the only things a header sizes; before they are
    // allocated, bound them by what the file actually held.
    let budget = lines.content.saturating_mul(8).max(SMALL_FILE_BITS);
    if input_bits.saturating_add(output_bits) > budget {
        return Err(malformed(
            l1,
            Malformed::WidthsExceedContent {
                bits: input_bits.saturating_add(output_bits),
                bytes: lines.content,
            },
        ));
    }

    // Outputs are the last `output_bits` wires, in order.
    let mut outputs = Vec::with_capacity(output_widths.len());
    let mut start = wires - output_bits;
    for (index, &w) in output_widths.iter().enumerate() {
        let mut bits = Vec::with_capacity(w as usize);
        for k in 0..w {
            let pos = file_position(bit_order, k, w);
            let f = start + pos;
            let wire = rn.resolve(f).ok_or_else(|| {
                malformed(
                    lines.last,
                    Malformed::OutputUndriven {
                        output: index,
                        bit: pos,
                        wire: f,
                    },
                )
            })?;
            bits.push(Wire::new(wire));
        }
        outputs.push(Output {
            name: format!("out{index}"),
            wires: bits,
        });
        start += w;
    }
    let interface = Interface {
        parties: (0..input_widths.len())
            .map(|i| Party {
                name: format!("p{i}"),
            })
            .collect(),
        inputs: input_widths
            .iter()
            .enumerate()
            .map(|(i, &w)| Input {
                name: format!("in{i}"),
                party: PartyId(i as u16),
                width: w as u32,
            })
            .collect(),
        outputs,
    };
    Ok(Header {
        interface,
        format,
        bit_order,
        source_gates: src,
    })
}

/// Reads a whole circuit from `reader`.
pub fn read<R: BufRead>(reader: R, options: &ReadOptions) -> Result<Loaded, BristolError> {
    let mut gates = Vec::new();
    let header = read_into(reader, options, &mut gates)?;
    let circuit =
        Circuit::new(header.interface, gates).map_err(|e| malformed(1, Malformed::Circuit(e)))?;
    Ok(Loaded {
        circuit,
        format: header.format,
        bit_order: header.bit_order,
        source_gates: header.source_gates,
    })
}

/// Reads a circuit from text.
pub fn parse(text: &str, options: &ReadOptions) -> Result<Loaded, BristolError> {
    read(text.as_bytes(), options)
}

/// Reads a circuit from a file.
pub fn read_file(path: &Path, options: &ReadOptions) -> Result<Loaded, BristolError> {
    let file = std::fs::File::open(path)?;
    read(io::BufReader::with_capacity(1 << 16, file), options)
}

/// Writes `circuit` in Bristol Fashion. Wires are renumbered: inputs first,
/// outputs last as the format requires. An output bit that is an input
/// wire, or a wire that feeds several output bits, is copied into its slot
/// with `EQW`; constants become `EQ`. Parties and names are not part of the
/// format and are lost: read back, each input is its own party.
pub fn write<W: Write>(circuit: &Circuit, out: W) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let iface = circuit.interface();
    let input_bits = circuit.stats().input_bits as u32;
    let out_wires: Vec<Wire> = iface
        .outputs
        .iter()
        .flat_map(|o| o.wires.iter().copied())
        .collect();
    let n_out = out_wires.len() as u32;

    // Gate outputs that feed exactly one output bit take that bit's slot.
    let mut uses: HashMap<Wire, (u32, u32)> = HashMap::new();
    for (p, &w) in out_wires.iter().enumerate() {
        uses.entry(w).or_insert((0, p as u32)).0 += 1;
    }
    let direct = |w: Wire| -> Option<u32> {
        match uses.get(&w) {
            Some(&(1, p)) if w.index() >= input_bits => Some(p),
            _ => None,
        }
    };
    let internal = circuit
        .gates()
        .iter()
        .filter(|g| direct(g.out()).is_none())
        .count() as u32;
    let copies = out_wires.iter().filter(|&&w| direct(w).is_none()).count();
    let file_wires = input_bits + internal + n_out;
    let out_base = input_bits + internal;

    let mut id = vec![0u32; circuit.num_wires()];
    for (i, slot) in id.iter_mut().enumerate().take(input_bits as usize) {
        *slot = i as u32;
    }
    writeln!(out, "{} {}", circuit.gates().len() + copies, file_wires)?;
    let widths = |ws: Vec<u64>| {
        ws.iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    writeln!(
        out,
        "{} {}",
        iface.inputs.len(),
        widths(iface.inputs.iter().map(|i| u64::from(i.width)).collect())
    )?;
    writeln!(
        out,
        "{} {}",
        iface.outputs.len(),
        widths(iface.outputs.iter().map(|o| o.wires.len() as u64).collect())
    )?;
    writeln!(out)?;
    let mut next = input_bits;
    for gate in circuit.gates() {
        let o = gate.out();
        let fid = match direct(o) {
            Some(p) => out_base + p,
            None => {
                next += 1;
                next - 1
            }
        };
        id[o.idx()] = fid;
        match *gate {
            Gate::Xor { a, b, .. } => {
                writeln!(out, "2 1 {} {} {fid} XOR", id[a.idx()], id[b.idx()])?
            }
            Gate::And { a, b, .. } => {
                writeln!(out, "2 1 {} {} {fid} AND", id[a.idx()], id[b.idx()])?
            }
            Gate::Not { a, .. } => writeln!(out, "1 1 {} {fid} INV", id[a.idx()])?,
            Gate::Const { value, .. } => writeln!(out, "1 1 {} {fid} EQ", u8::from(value))?,
        }
    }
    for (p, &w) in out_wires.iter().enumerate() {
        if direct(w).is_none() {
            writeln!(out, "1 1 {} {} EQW", id[w.idx()], out_base + p as u32)?;
        }
    }
    out.flush()
}

/// [`write`] to a file.
pub fn write_file(circuit: &Circuit, path: &Path) -> io::Result<()> {
    write(circuit, std::fs::File::create(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bits::Bits;
    use crate::eval::evaluate;

    // Outputs are wires 5 and 6; nothing drives 6.
    const UNDRIVEN: &str = "2 7\n2 2 2\n1 2\n\n2 1 0 2 4 XOR\n2 1 1 3 5 XOR\n";

    #[test]
    fn reads_a_small_fashion_file() {
        // out = a XOR b in bit 0; bit 1 = (a1 ^ b1) — the AND feeds nothing.
        let text = "3 7\n2 2 2\n1 2\n\n2 1 0 2 5 XOR\n2 1 0 2 4 AND\n2 1 1 3 6 XOR\n";
        let l = parse(text, &ReadOptions::default()).unwrap();
        assert_eq!(l.format, Format::Fashion);
        let out = evaluate(
            &l.circuit,
            &[Bits::from_u64(0b11, 2), Bits::from_u64(0b01, 2)],
        )
        .unwrap();
        assert_eq!(out[0].to_u64(), Some(0b10));
        assert_eq!(l.source_gates.xor, 2);
    }

    #[test]
    fn undriven_output_is_reported() {
        let e = parse(UNDRIVEN, &ReadOptions::default()).unwrap_err();
        assert_eq!(e.line(), Some(6));
        assert!(
            matches!(
                e.malformed(),
                Some(Malformed::OutputUndriven { wire: 6, .. })
            ),
            "{e}"
        );
    }

    #[test]
    fn eq_eqw_mand() {
        // in: 2 bits; out: [const 1, copy of in0, in0 & in1]
        let text = "3 6\n1 2\n1 3\n\n1 1 1 3 EQ\n1 1 0 4 EQW\n2 1 0 1 5 MAND\n";
        let l = parse(text, &ReadOptions::default()).unwrap();
        for v in 0..4u64 {
            let out = evaluate(&l.circuit, &[Bits::from_u64(v, 2)]).unwrap();
            let expect = 1 | (v & 1) << 1 | ((v & 1) & (v >> 1)) << 2;
            assert_eq!(out[0].to_u64(), Some(expect));
        }
        assert_eq!(l.source_gates.eqw, 1);
        assert_eq!(l.circuit.stats().and, 1);
    }

    #[test]
    fn old_format_msb_first() {
        // 2-bit inputs, output = in1 XOR in2, wires numbered MSB first.
        let text = "2 6\n2 2 2\n2 1 0 2 4 XOR\n2 1 1 3 5 XOR\n";
        let l = parse(text, &ReadOptions::default()).unwrap();
        assert_eq!(l.format, Format::Old);
        assert_eq!(l.bit_order, BitOrder::MsbFirst);
        let out = evaluate(
            &l.circuit,
            &[Bits::from_u64(0b10, 2), Bits::from_u64(0b11, 2)],
        )
        .unwrap();
        assert_eq!(out[0].to_u64(), Some(0b01));
    }
}
