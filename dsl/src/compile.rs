//! Checking and lowering: the syntax tree to a circuit, in one pass.
//!
//! The compiler runs the program symbolically. Public values (literals,
//! constants, parameters, loop counters and whatever is computed from them
//! only) are known while compiling; secret values (inputs, and whatever
//! depends on one) are words of wires. Types and secrecy are checked as each
//! expression is lowered: a value's secrecy is a property of the program,
//! tracked on every value, never guessed from whether its bits happen to
//! fold to constants.
//!
//! - `for` loops are unrolled; their bounds must be public.
//! - Helper functions are inlined at each call; recursion is refused.
//! - `if` with a public condition compiles the branch taken only; with a
//!   secret condition both branches are compiled and every variable either
//!   assigns becomes a multiplexer on the condition (as does the value).
//! - Integer literals have no type until they meet one: `x + 1` takes `x`'s
//!   type, and a literal that does not fit is an error.

use std::collections::{HashMap, HashSet};

use quorate_circuits::{
    Bit, Circuit, CircuitBuilder, Interface, MixedCircuit, Op, OpSink, PartyId, Port, Signedness,
    Slot, Wire, Word,
};

mod arith;
use arith::ArithState;

use crate::ast::*;
use crate::diag::{Diagnostic, Span};
use crate::types::{FIX_BITS, FIX_FRAC, IntTy, Type, parse_fix, parse_int};

type CResult<T> = Result<T, Diagnostic>;

/// Limits that keep a hostile or mistaken program from exhausting the
/// machine: checked as the program is unrolled.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Gates in the circuit.
    pub max_gates: u64,
    /// Loop iterations and calls, all told.
    pub max_steps: u64,
    /// Bits in one value (an array).
    pub max_value_bits: u64,
    /// For a trial compile that only asks whether this lowering costs less
    /// than another: the budget past which it gives up. `None` for a real
    /// compile.
    pub trial: Option<Trial>,
}

/// The budget of a trial compile of the Boolean lowering, set from a
/// lowering compiled before it (the arithmetic one, in `quorate run
/// --backend auto`). The trial gives up, with an error, once its AND gates
///
/// - pass `max_and` (it would cost more than the other lowering in all), or
/// - pass [`Trial::FLOOR`] and [`Trial::SLACK`] times the other lowering's
///   cost pro rata: `max_and · (s + 1) / (steps + 1)` after `s` of the
///   other lowering's `steps` unrolled steps (loop iterations and calls).
///
/// The second rule ends a hopeless trial early, at the cost of assuming
/// that the other lowering's cost is spread evenly over its steps: a
/// program whose Boolean circuit is more than `SLACK` times dearer early
/// on, and cheaper later (or whose later steps cost nothing, such as a
/// long loop over public values), can be judged wrongly. Below `FLOOR` AND
/// gates, and in a program without loops or calls, the comparison is
/// exact.
#[derive(Clone, Copy, Debug)]
pub struct Trial {
    /// AND gates at which this lowering costs as much as the other.
    pub max_and: u64,
    /// The other lowering's unrolled steps ([`Program::steps`]).
    pub steps: u64,
}

impl Trial {
    /// AND gates below which the pro-rata rule never stops a trial.
    pub const FLOOR: u64 = 1 << 20;
    /// How much dearer than the other lowering, pro rata, a trial may run.
    pub const SLACK: u64 = 4;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_gates: 200_000_000,
            max_steps: 50_000_000,
            max_value_bits: 1 << 28,
            trial: None,
        }
    }
}

/// An input of the compiled program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSpec {
    /// The parameter name of `main`.
    pub name: String,
    /// Index of the party providing it.
    pub party: usize,
    /// Its type.
    pub ty: Type,
}

/// An output of the compiled program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    /// The output name (`result` for a single unnamed output, `result.0`,
    /// `result.1`, ... for unnamed tuple items).
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Indexes of the parties who learn it.
    pub to: Vec<usize>,
}

/// A compiled program: the circuit and what its inputs and outputs mean.
#[derive(Clone, Debug)]
pub struct Program {
    /// The circuit: one input per input of `main`, one output per output.
    pub circuit: Circuit,
    /// The parties, in declaration order.
    pub parties: Vec<String>,
    /// The inputs, in order.
    pub inputs: Vec<InputSpec>,
    /// The outputs, in order.
    pub outputs: Vec<OutputSpec>,
    /// Every `param` with the value it was compiled with.
    pub params: Vec<(String, String)>,
    /// The arithmetic lowering ([`compile_arith`]): the program as a mixed
    /// circuit of ring and Boolean ops. `circuit` is then empty.
    pub mixed: Option<MixedCircuit>,
    /// Loop iterations and calls the compiler unrolled (see
    /// [`Limits::max_steps`]).
    pub steps: u64,
}

/// A value during compilation.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Val {
    /// A public integer whose type is not known yet.
    Lit(i128),
    Bool(Bit, bool),
    Int(IntTy, Word, bool),
    Fix(Word, bool),
    Array(Vec<Val>),
    Tuple(Vec<Val>),
}

impl Val {
    fn unit() -> Val {
        Val::Tuple(Vec::new())
    }

    fn secret(&self) -> bool {
        match self {
            Val::Lit(_) => false,
            Val::Bool(_, s) | Val::Int(_, _, s) | Val::Fix(_, s) => *s,
            Val::Array(v) | Val::Tuple(v) => v.iter().any(Val::secret),
        }
    }

    /// The type, when no untyped literal is left in it.
    fn ty(&self) -> Option<Type> {
        Some(match self {
            Val::Lit(_) => return None,
            Val::Bool(..) => Type::Bool,
            Val::Int(t, _, _) => Type::Int(*t),
            Val::Fix(..) => Type::Fix,
            Val::Array(v) => {
                let first = v.first().map(Val::ty)?;
                Type::Array(Box::new(first?), v.len())
            }
            Val::Tuple(v) => Type::Tuple(v.iter().map(Val::ty).collect::<Option<_>>()?),
        })
    }

    fn describe(&self) -> String {
        match self.ty() {
            Some(t) => t.to_string(),
            None => match self {
                Val::Lit(_) => "an integer literal".into(),
                Val::Array(v) => format!("an array of {} integer literals", v.len()),
                _ => "a tuple with integer literals".into(),
            },
        }
    }

    fn flatten(&self, out: &mut Vec<Bit>) {
        match self {
            Val::Lit(_) => {}
            Val::Bool(b, _) => out.push(*b),
            Val::Int(_, w, _) | Val::Fix(w, _) => out.extend_from_slice(&w.bits()),
            Val::Array(v) | Val::Tuple(v) => v.iter().for_each(|x| x.flatten(out)),
        }
    }
}

fn sign(t: IntTy) -> Signedness {
    if t.signed {
        Signedness::Signed
    } else {
        Signedness::Unsigned
    }
}

/// A variable in scope.
#[derive(Clone, Debug)]
struct Var {
    val: Val,
    mutable: bool,
    /// A `for` loop's counter.
    counter: bool,
}

/// Compiles `src` with the given `--param` values.
///
/// The work runs on a thread of its own with a large stack, so that deeply
/// nested programs meet the nesting limit ([`MAX_NESTING`]) with an error,
/// never a stack overflow.
pub fn compile(src: &str, params: &[(String, String)], limits: Limits) -> CResult<Program> {
    compile_on_thread(src, params, limits, false)
}

/// Compiles `src` for the arithmetic backend: integer and `fix` additions,
/// subtractions and products become ring ops over `Z_2^128`, everything
/// else Boolean gates, with conversions where the two meet (see
/// `docs/language.md`, section 11). The result's `mixed` holds the
/// program; its `circuit` is empty.
pub fn compile_arith(src: &str, params: &[(String, String)], limits: Limits) -> CResult<Program> {
    compile_on_thread(src, params, limits, true)
}

fn compile_on_thread(
    src: &str,
    params: &[(String, String)],
    limits: Limits,
    arith: bool,
) -> CResult<Program> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("quorate-dsl".into())
            .stack_size(COMPILER_STACK)
            .spawn_scoped(scope, || compile_here(src, params, limits, arith));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(Diagnostic::new(
                    Span::new(0, 0),
                    "internal: the compiler panicked",
                ))
            }),
            Err(e) => Err(Diagnostic::new(
                Span::new(0, 0),
                format!("cannot start the compiler's thread: {e}"),
            )),
        }
    })
}

/// The compiler thread's stack: reserved, and touched only as deep as a
/// program nests.
const COMPILER_STACK: usize = 256 << 20;

/// Blocks, expressions and calls nest at most this deep, all told.
pub const MAX_NESTING: usize = 2000;

fn compile_here(
    src: &str,
    params: &[(String, String)],
    limits: Limits,
    arith: bool,
) -> CResult<Program> {
    let file = crate::parser::parse(src)?;
    let mut c = Compiler {
        nesting: 0,
        b: CircuitBuilder::with_sink(if arith {
            OpSink::Ops(Default::default())
        } else {
            OpSink::Gates(Vec::new())
        }),
        arith: arith.then(ArithState::default),
        globals: HashMap::new(),
        fns: HashMap::new(),
        scopes: Vec::new(),
        stack: Vec::new(),
        steps: 0,
        limits,
        parties: Vec::new(),
    };
    c.run(&file, params)
}

struct Compiler<'a> {
    /// Current depth of blocks, expressions and calls.
    nesting: usize,
    b: CircuitBuilder<OpSink>,
    /// The arithmetic lowering's state; `None` for the Boolean one.
    arith: Option<ArithState>,
    globals: HashMap<String, Val>,
    fns: HashMap<&'a str, &'a FnDecl>,
    scopes: Vec<HashMap<String, Var>>,
    /// Functions being inlined, innermost last: a call to one is recursion.
    stack: Vec<&'a str>,
    steps: u64,
    limits: Limits,
    parties: Vec<String>,
}

/// Helper calls nest at most this deep (each call is inlined).
pub const MAX_CALL_DEPTH: usize = 64;

const BUILTINS: &[&str] = &["min", "max", "abs", "sum", "dot", "select", "len"];

impl<'a> Compiler<'a> {
    fn run(&mut self, file: &'a File, params: &[(String, String)]) -> CResult<Program> {
        // Parties.
        let mut seen = HashSet::new();
        for p in &file.parties {
            if p.text == "all" {
                return Err(Diagnostic::new(p.span, "`all` cannot name a party")
                    .help("`@all` means every party; pick another name"));
            }
            if !seen.insert(p.text.as_str()) {
                return Err(Diagnostic::new(
                    p.span,
                    format!("party `{}` is declared twice", p.text),
                ));
            }
            self.parties.push(p.text.clone());
        }
        if file.parties_span.is_none() {
            return Err(Diagnostic::new(Span::new(0, 0), "no `parties` declaration")
                .help("start the file with the parties, e.g. `parties alice, bob;`"));
        }
        // Functions first, so that constants may call them.
        for item in &file.items {
            if let Item::Fn(f) = item {
                if BUILTINS.contains(&f.name.text.as_str()) || Type::scalar(&f.name.text).is_some()
                {
                    return Err(Diagnostic::new(
                        f.name.span,
                        format!(
                            "`{}` is a built-in name and cannot be redefined",
                            f.name.text
                        ),
                    ));
                }
                if self.fns.insert(&f.name.text, f).is_some() {
                    return Err(Diagnostic::new(
                        f.name.span,
                        format!("function `{}` is defined twice", f.name.text),
                    ));
                }
            }
        }
        let mut used_params = HashSet::new();
        let mut param_values = Vec::new();
        for item in &file.items {
            match item {
                Item::Const { name, ty, value } => {
                    self.check_global_name(name)?;
                    let v = self.expr(value)?;
                    let v = self.declared(v, ty.as_ref(), value.span)?;
                    if v.secret() {
                        return Err(Diagnostic::new(value.span, "a constant cannot be secret"));
                    }
                    self.globals.insert(name.text.clone(), v);
                }
                Item::Param { name, ty, default } => {
                    self.check_global_name(name)?;
                    let given = params.iter().rev().find(|(k, _)| *k == name.text);
                    let v = match (given, default) {
                        (Some((_, text)), _) => {
                            used_params.insert(name.text.as_str());
                            self.param_value(name, ty.as_ref(), text)?
                        }
                        (None, Some(d)) => {
                            let v = self.expr(d)?;
                            if v.secret() {
                                return Err(Diagnostic::new(
                                    d.span,
                                    "a parameter's default cannot be secret",
                                ));
                            }
                            self.declared(v, ty.as_ref(), d.span)?
                        }
                        (None, None) => {
                            return Err(Diagnostic::new(
                                name.span,
                                format!("parameter `{}` has no value", name.text),
                            )
                            .help(format!(
                                "pass `--param {}=VALUE`, or give a default: `param {} = 8;`",
                                name.text, name.text
                            )));
                        }
                    };
                    param_values.push((name.text.clone(), self.show_public(&v)));
                    self.globals.insert(name.text.clone(), v);
                }
                Item::Fn(_) => {}
            }
        }
        if let Some((k, _)) = params
            .iter()
            .find(|(k, _)| !used_params.contains(k.as_str()))
        {
            let known: Vec<&str> = file
                .items
                .iter()
                .filter_map(|i| match i {
                    Item::Param { name, .. } => Some(name.text.as_str()),
                    _ => None,
                })
                .collect();
            return Err(Diagnostic::new(
                Span::new(0, 0),
                format!("the program has no parameter `{k}`"),
            )
            .help(if known.is_empty() {
                "it declares no `param`".to_owned()
            } else {
                format!("its parameters: {}", known.join(", "))
            }));
        }
        let Some(main) = self.fns.get("main").copied() else {
            return Err(Diagnostic::new(Span::new(0, 0), "no `main` function")
                .help("add `fn main(x: u64 @alice, y: u64 @bob) -> bool @all { x > y }`"));
        };
        self.main(main, param_values)
    }

    /// Variables, constants and parameters may not take a function's name.
    fn check_var_name(&self, name: &Name) -> CResult<()> {
        if self.fns.contains_key(name.text.as_str()) || BUILTINS.contains(&name.text.as_str()) {
            return Err(
                Diagnostic::new(name.span, format!("`{}` is a function name", name.text))
                    .help("pick another name"),
            );
        }
        Ok(())
    }

    fn check_global_name(&self, name: &Name) -> CResult<()> {
        self.check_var_name(name)?;
        if self.globals.contains_key(&name.text) {
            return Err(Diagnostic::new(
                name.span,
                format!("`{}` is defined twice", name.text),
            ));
        }
        Ok(())
    }

    fn show_public(&self, v: &Val) -> String {
        match v {
            Val::Lit(x) => x.to_string(),
            Val::Bool(b, _) => b.as_const().unwrap_or(false).to_string(),
            Val::Int(t, w, _) => const_int(*t, w).map_or_else(String::new, |x| x.to_string()),
            Val::Fix(w, _) => crate::types::fix_to_string(w.as_const().unwrap_or(0) as i64),
            _ => String::new(),
        }
    }

    fn param_value(&mut self, name: &Name, ty: Option<&'a TypeExpr>, text: &str) -> CResult<Val> {
        let bad = |what: &str| {
            Diagnostic::new(name.span, format!("--param {}={text}: {what}", name.text))
        };
        let v = match text.trim() {
            "true" => Val::Bool(Bit::Const(true), false),
            "false" => Val::Bool(Bit::Const(false), false),
            t => match parse_int(t) {
                Some(x) => Val::Lit(x),
                None => match parse_fix(t) {
                    Some(raw) => Val::Fix(Word::constant(raw as u64, FIX_BITS as usize), false),
                    None => return Err(bad("not an integer, a decimal or a bool")),
                },
            },
        };
        self.declared(v, ty, name.span).map_err(|d| {
            Diagnostic::new(
                name.span,
                format!("--param {}={text}: {}", name.text, d.message),
            )
        })
    }

    /// Coerces `v` to the declared type, if there is one.
    fn declared(&mut self, v: Val, ty: Option<&'a TypeExpr>, span: Span) -> CResult<Val> {
        match ty {
            Some(t) => {
                let t = self.ty(t)?;
                self.coerce(v, &t, span)
            }
            None => Ok(v),
        }
    }

    fn step(&mut self, span: Span) -> CResult<()> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(Diagnostic::new(
                span,
                format!(
                    "the program unrolls to more than {} loop iterations and calls",
                    self.limits.max_steps
                ),
            )
            .help("lower the loop bounds or the parameters"));
        }
        self.gate_limit(span)
    }

    /// An error once the circuit has grown past the gate limit: checked at
    /// every step, block and expression, and at the end.
    fn gate_limit(&self, span: Span) -> CResult<()> {
        if let Some(t) = self.limits.trial {
            // Pro rata over steps counted from one, so that code before the
            // first loop or call (or a program with none) is held to the
            // total budget alone.
            let and = self.b.and_count();
            let done = u128::from(self.steps) + 1;
            let total = u128::from(t.steps) + 1;
            let pro_rata = u128::from(t.max_and)
                .saturating_mul(done)
                .saturating_mul(u128::from(Trial::SLACK));
            if and > t.max_and
                || (and > Trial::FLOOR && u128::from(and).saturating_mul(total) > pro_rata)
            {
                return Err(Diagnostic::new(
                    span,
                    format!(
                        "trial compile: {and} AND gates here cost more than the other lowering"
                    ),
                ));
            }
        }
        if self.b.stats().gates() > self.limits.max_gates {
            return Err(Diagnostic::new(
                span,
                format!(
                    "the circuit grows past {} gates here",
                    self.limits.max_gates
                ),
            )
            .help("lower the loop bounds or the parameters"));
        }
        Ok(())
    }

    fn main(&mut self, main: &'a FnDecl, params: Vec<(String, String)>) -> CResult<Program> {
        for p in &self.parties.clone() {
            self.b.party(p);
        }
        let mut inputs = Vec::new();
        let mut scope = HashMap::new();
        for p in &main.params {
            let Some(party) = &p.party else {
                return Err(Diagnostic::new(
                    p.name.span,
                    format!("input `{}` has no party", p.name.text),
                )
                .help(format!(
                    "say who provides it: `{}: {} @{}`",
                    p.name.text,
                    self.ty(&p.ty)
                        .map(|t| t.to_string())
                        .unwrap_or_else(|_| "u64".into()),
                    self.parties.first().map_or("alice", String::as_str)
                )));
            };
            let idx = self.party_index(party)?;
            self.check_var_name(&p.name)?;
            let ty = self.ty(&p.ty)?;
            if scope.contains_key(&p.name.text) {
                return Err(Diagnostic::new(
                    p.name.span,
                    format!("input `{}` is declared twice", p.name.text),
                ));
            }
            if ty.width() == 0 {
                return Err(Diagnostic::new(
                    p.ty.span(),
                    format!("input `{}` of type {ty} holds no bits", p.name.text),
                )
                .help("an input needs a value: use bool, an integer, fix, or a non-empty array"));
            }
            let width = u32::try_from(ty.width()).unwrap_or(u32::MAX);
            let val = if self.arith.is_some() {
                let mut slots = Vec::new();
                let val = self.arith_input(&ty, &mut slots);
                if let Some(st) = self.arith.as_mut() {
                    st.inputs.push(Port {
                        name: p.name.text.clone(),
                        party: idx,
                        slots,
                    });
                }
                val
            } else {
                let word = self
                    .b
                    .input(PartyId(idx as u16), &p.name.text, width)
                    .map_err(|e| Diagnostic::new(p.name.span, e.to_string()))?;
                let mut at = 0;
                unflatten(&ty, &word, &mut at, true)
            };
            scope.insert(
                p.name.text.clone(),
                Var {
                    val,
                    mutable: false,
                    counter: false,
                },
            );
            inputs.push(InputSpec {
                name: p.name.text.clone(),
                party: idx,
                ty,
            });
        }
        let Some(ret) = &main.ret else {
            return Err(Diagnostic::new(
                main.name.span,
                "`main` returns nothing, so nobody learns anything",
            )
            .help("declare the outputs and who learns them: `-> bool @all`"));
        };
        // Output types and recipients, before the body, so a mistake there
        // is reported first.
        let mut outs = Vec::new();
        for (i, item) in ret.items.iter().enumerate() {
            let Some(reveal) = item.reveal.as_ref().or(ret.reveal.as_ref()) else {
                return Err(
                    Diagnostic::new(item.span, "this output is revealed to nobody")
                        .help("name who learns it: `@all`, `@alice` or `@(alice, bob)`"),
                );
            };
            let to = self.recipients(reveal)?;
            let name = match (&item.name, ret.tuple) {
                (Some(n), _) => n.text.clone(),
                (None, false) => "result".to_owned(),
                (None, true) => format!("result.{i}"),
            };
            if outs.iter().any(|o: &OutputSpec| o.name == name) {
                return Err(Diagnostic::new(
                    item.span,
                    format!("output `{name}` is declared twice"),
                ));
            }
            outs.push(OutputSpec {
                name,
                ty: self.ty(&item.ty)?,
                to,
            });
        }
        self.scopes.push(scope);
        self.stack.push("main");
        let v = self.block(&main.body)?;
        let at = main.body.tail.as_ref().map_or(main.body.span, |t| t.span);
        let values = if ret.tuple {
            let want = Type::Tuple(outs.iter().map(|o| o.ty.clone()).collect());
            match self.coerce(v, &want, at)? {
                Val::Tuple(items) => items,
                _ => Vec::new(),
            }
        } else {
            vec![self.coerce(v, &outs[0].ty, at)?]
        };
        self.gate_limit(main.body.span)?;
        if self.arith.is_some() {
            let mixed = self.finish_mixed(&outs, &values, main.span)?;
            let circuit = Circuit::new(Interface::default(), Vec::new())
                .map_err(|e| Diagnostic::new(main.span, format!("internal: {e}")))?;
            return Ok(Program {
                circuit,
                parties: self.parties.clone(),
                inputs,
                outputs: outs,
                params,
                mixed: Some(mixed),
                steps: self.steps,
            });
        }
        for (o, v) in outs.iter().zip(&values) {
            let mut bits = Vec::new();
            v.flatten(&mut bits);
            self.b.output(&o.name, &Word::from_bits(bits));
        }
        let b = std::mem::replace(
            &mut self.b,
            CircuitBuilder::with_sink(OpSink::Gates(Vec::new())),
        );
        let (interface, sink) = b
            .finish_stream()
            .map_err(|e| Diagnostic::new(main.span, format!("internal: {e}")))?;
        let OpSink::Gates(gates) = sink else {
            return Err(Diagnostic::new(
                main.span,
                "internal: mixed ops in a Boolean circuit",
            ));
        };
        let circuit = Circuit::new(interface, gates)
            .map_err(|e| Diagnostic::new(main.span, format!("internal: {e}")))?;
        Ok(Program {
            circuit,
            parties: self.parties.clone(),
            inputs,
            outputs: outs,
            params,
            mixed: None,
            steps: self.steps,
        })
    }

    fn party_index(&self, name: &Name) -> CResult<usize> {
        self.parties
            .iter()
            .position(|p| *p == name.text)
            .ok_or_else(|| {
                Diagnostic::new(name.span, format!("unknown party `{}`", name.text))
                    .help(format!("the parties are {}", self.parties.join(", ")))
            })
    }

    fn recipients(&self, r: &Reveal) -> CResult<Vec<usize>> {
        match r {
            Reveal::All(_) => Ok((0..self.parties.len()).collect()),
            Reveal::Parties(names, _) => {
                let mut to = Vec::new();
                for n in names {
                    let i = self.party_index(n)?;
                    if !to.contains(&i) {
                        to.push(i);
                    }
                }
                to.sort_unstable();
                Ok(to)
            }
        }
    }

    // ----- types -----

    fn ty(&mut self, t: &'a TypeExpr) -> CResult<Type> {
        match t {
            TypeExpr::Named(n) => Type::scalar(&n.text).ok_or_else(|| {
                let help = match n.text.as_str() {
                    "int" | "i128" | "u128" | "usize" | "isize" => {
                        "integers are u8, u16, u32, u64, i8, i16, i32 or i64"
                    }
                    "float" | "f32" | "f64" | "double" => "decimals are `fix` (fixed point)",
                    _ => "the types are bool, u8..u64, i8..i64, fix, [T; N] and tuples",
                };
                Diagnostic::new(n.span, format!("unknown type `{}`", n.text)).help(help)
            }),
            TypeExpr::Array(elem, len, span) => {
                let e = self.ty(elem)?;
                let lv = self.expr(len)?;
                let n = self.public_int(&lv, len.span, "an array length")?;
                let n = array_len(n, len.span)?;
                let t = Type::Array(Box::new(e), n);
                // The Boolean lowering holds a value bit by bit; the
                // arithmetic one holds an integer or `fix` as one wire, so
                // it counts values (each as 8 bits of the budget).
                let (size, limit, unit) = if self.arith.is_some() {
                    (t.leaves(), self.limits.max_value_bits / 8, "values")
                } else {
                    (t.width(), self.limits.max_value_bits, "bits")
                };
                if size > limit {
                    return Err(Diagnostic::new(
                        *span,
                        format!("{t} has {size} {unit}, more than the limit of {limit}"),
                    ));
                }
                Ok(t)
            }
            TypeExpr::Tuple(items, _) => Ok(Type::Tuple(
                items.iter().map(|t| self.ty(t)).collect::<CResult<_>>()?,
            )),
        }
    }

    /// `v` as a value of type `t`: literals take the type (if they fit);
    /// anything else must already have it.
    fn coerce(&mut self, v: Val, t: &Type, span: Span) -> CResult<Val> {
        coerce_static(v, t, span)
    }

    /// Gives two operands one type: a literal takes the other's.
    fn unify(&mut self, a: Val, b: Val, span: Span) -> CResult<(Val, Val)> {
        match (a.ty(), b.ty()) {
            (None, Some(t)) => Ok((self.coerce(a, &t, span)?, b)),
            (Some(t), None) => {
                let b = self.coerce(b, &t, span)?;
                Ok((a, b))
            }
            (Some(x), Some(y)) if x != y => {
                let wider = if y.width() > x.width() { &y } else { &x };
                let mut d = Diagnostic::new(span, format!("mismatched types: {x} and {y}"));
                if matches!(
                    (&x, &y),
                    (Type::Int(_) | Type::Fix, Type::Int(_) | Type::Fix)
                ) {
                    d = d.help(format!(
                        "convert the other side with `as`, e.g. `(..) as {wider}`"
                    ));
                }
                Err(d)
            }
            _ => Ok((a, b)),
        }
    }

    fn public_int(&self, v: &Val, span: Span, what: &str) -> CResult<i128> {
        if v.secret() {
            return Err(Diagnostic::new(span, format!("cannot use a secret value as {what}"))
                .help(format!("{what} must be known when the program is compiled: use constants, parameters or loop counters")));
        }
        match v {
            Val::Lit(x) => Ok(*x),
            Val::Int(t, w, _) => const_int(*t, w)
                .ok_or_else(|| Diagnostic::new(span, "internal: a public value is not constant")),
            other => Err(Diagnostic::new(
                span,
                format!("{what} must be an integer, found {}", other.describe()),
            )),
        }
    }

    // ----- statements -----

    fn lookup(&self, name: &str) -> Option<&Val> {
        for s in self.scopes.iter().rev() {
            if let Some(v) = s.get(name) {
                return Some(&v.val);
            }
        }
        self.globals.get(name)
    }

    fn block(&mut self, b: &'a Block) -> CResult<Val> {
        self.enter(b.span)?;
        self.scopes.push(HashMap::new());
        let r = self.block_inner(b);
        self.scopes.pop();
        self.nesting -= 1;
        r
    }

    /// One level deeper; an error past [`MAX_NESTING`], and past the gate
    /// limit (checked here as everywhere gates are made).
    fn enter(&mut self, span: Span) -> CResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            self.nesting -= 1;
            return Err(Diagnostic::new(
                span,
                format!("blocks, expressions and calls nest deeper than {MAX_NESTING} levels here"),
            )
            .help("split deep expressions with `let`, and flatten chains of helper calls"));
        }
        if let Err(e) = self.gate_limit(span) {
            self.nesting -= 1;
            return Err(e);
        }
        Ok(())
    }

    fn block_inner(&mut self, b: &'a Block) -> CResult<Val> {
        for s in &b.stmts {
            self.stmt(s)?;
        }
        match &b.tail {
            Some(e) => self.expr(e),
            None => Ok(Val::unit()),
        }
    }

    fn stmt(&mut self, s: &'a Stmt) -> CResult<()> {
        match s {
            Stmt::Let {
                name,
                mutable,
                ty,
                value,
            } => {
                self.check_var_name(name)?;
                let v = self.expr(value)?;
                let v = self.declared(v, ty.as_ref(), value.span)?;
                if let Some(scope) = self.scopes.last_mut() {
                    scope.insert(
                        name.text.clone(),
                        Var {
                            val: v,
                            mutable: *mutable,
                            counter: false,
                        },
                    );
                }
                Ok(())
            }
            Stmt::Assign {
                place,
                op,
                value,
                span,
            } => {
                let rhs = self.expr(value)?;
                let new = match op {
                    Some(op) => {
                        let cur = self.expr(place)?;
                        self.binary(*op, cur, rhs, place.span.to(value.span), *span)?
                    }
                    None => rhs,
                };
                self.assign(place, new, value.span)
            }
            Stmt::For {
                var,
                start,
                end,
                body,
            } => {
                self.check_var_name(var)?;
                let s = self.expr(start)?;
                let e = self.expr(end)?;
                let lo = self.public_int(&s, start.span, "a loop bound")?;
                let hi = self.public_int(&e, end.span, "a loop bound")?;
                // Typed bounds give the counter their type.
                let (s, _) = self.unify(s, e, start.span.to(end.span))?;
                let ty = s.ty();
                let mut i = lo;
                while i < hi {
                    self.step(var.span)?;
                    let counter = match &ty {
                        Some(t) => self.coerce(Val::Lit(i), t, var.span)?,
                        None => Val::Lit(i),
                    };
                    let mut scope = HashMap::new();
                    scope.insert(
                        var.text.clone(),
                        Var {
                            val: counter,
                            mutable: false,
                            counter: true,
                        },
                    );
                    self.scopes.push(scope);
                    let r = self.block(body);
                    self.scopes.pop();
                    r?;
                    i += 1;
                }
                Ok(())
            }
            Stmt::Expr(e) => {
                self.expr(e)?;
                Ok(())
            }
        }
    }

    fn assign(&mut self, place: &'a Expr, new: Val, vspan: Span) -> CResult<()> {
        let Some((root, root_span, path)) = self.place_path(
            place,
            "cannot assign to an array element at a secret index",
            "loop over the indexes and assign under `if i == index { ... }`",
        )?
        else {
            return Err(
                Diagnostic::new(place.span, "cannot assign to this expression")
                    .help("assign to a variable, an element `a[i]` or a field `t.0`"),
            );
        };
        let Some(var) = self.scopes.iter_mut().rev().find_map(|s| s.get_mut(root)) else {
            return Err(if self.globals.contains_key(root) {
                Diagnostic::new(
                    root_span,
                    format!("cannot assign to `{root}`: constants and parameters are fixed"),
                )
            } else {
                Diagnostic::new(root_span, format!("unknown variable `{root}`"))
                    .help(format!("declare it first: `let mut {root} = ...;`"))
            });
        };
        if !var.mutable {
            let help = if var.counter {
                "a loop counter cannot be changed; copy it into a `let mut` variable".to_owned()
            } else {
                format!("declare it with `let mut {root}` to change it")
            };
            return Err(
                Diagnostic::new(root_span, format!("cannot assign twice to `{root}`")).help(help),
            );
        }
        let mut slot = &mut var.val;
        for step in &path {
            let desc = || slot_desc(step);
            slot = match (*step, slot) {
                (Step::Index(k, span, _), Val::Array(items)) => {
                    let n = items.len();
                    items.get_mut(k).ok_or_else(|| {
                        Diagnostic::new(
                            span,
                            format!("index {k} is out of bounds for an array of {n}"),
                        )
                    })?
                }
                (Step::Field(f, span), Val::Tuple(items)) => {
                    let n = items.len();
                    items.get_mut(f as usize).ok_or_else(|| {
                        Diagnostic::new(span, format!("no field {f} in a tuple of {n}"))
                    })?
                }
                (_, other) => {
                    let (what, span) = desc();
                    return Err(Diagnostic::new(
                        span,
                        format!("cannot take {what} {}", other.describe()),
                    ));
                }
            };
        }
        let old = slot.clone();
        let new = match old.ty() {
            Some(t) => coerce_static(new, &t, vspan)?,
            // An untyped integer variable takes the integer type it is given.
            None => match new.ty() {
                Some(Type::Bool | Type::Array(..) | Type::Tuple(_)) => {
                    return Err(Diagnostic::new(
                        vspan,
                        format!("expected an integer, found {}", new.describe()),
                    )
                    .help(format!("`{root}` holds an integer since its `let`")));
                }
                _ => new,
            },
        };
        if let (Some(_), None) = (old.ty(), new.ty()) {
            return Err(Diagnostic::new(vspan, "internal: untyped value"));
        }
        *slot = new;
        Ok(())
    }

    // ----- expressions -----

    fn expr(&mut self, e: &'a Expr) -> CResult<Val> {
        self.enter(e.span)?;
        let r = self.expr_inner(e);
        self.nesting -= 1;
        r
    }

    fn expr_inner(&mut self, e: &'a Expr) -> CResult<Val> {
        match &e.kind {
            ExprKind::Int(v) => {
                if *v > u128::from(u64::MAX) {
                    return Err(Diagnostic::new(e.span, "the number is too large")
                        .help("integers have at most 64 bits"));
                }
                Ok(Val::Lit(*v as i128))
            }
            ExprKind::Decimal(text) => {
                let raw = parse_fix(text).ok_or_else(|| {
                    Diagnostic::new(e.span, format!("{text} does not fit in fix"))
                })?;
                Ok(Val::Fix(
                    Word::constant(raw as u64, FIX_BITS as usize),
                    false,
                ))
            }
            ExprKind::Bool(b) => Ok(Val::Bool(Bit::Const(*b), false)),
            ExprKind::Name(n) => self.lookup(n).cloned().ok_or_else(|| {
                let mut d = Diagnostic::new(e.span, format!("unknown name `{n}`"));
                if self.fns.contains_key(n.as_str()) {
                    d = d.help(format!("`{n}` is a function: call it with `{n}(...)`"));
                } else if let Some(s) = self.similar(n) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                d
            }),
            ExprKind::Unary(op, inner) => {
                let v = self.expr(inner)?;
                self.unary(*op, v, e.span)
            }
            ExprKind::Binary(op, l, r) => {
                let a = self.expr(l)?;
                let b = self.expr(r)?;
                self.binary(*op, a, b, e.span, e.span)
            }
            ExprKind::Call(name, args) => self.call(name, args, e.span),
            ExprKind::Index(..) | ExprKind::Field(..) if self.is_variable_place(e) => {
                self.read_place(e)
            }
            ExprKind::Index(a, i) => {
                let av = self.expr(a)?;
                let iv = self.expr(i)?;
                let Val::Array(items) = av else {
                    return Err(
                        Diagnostic::new(a.span, format!("cannot index {}", av.describe()))
                            .help("only arrays have elements"),
                    );
                };
                if iv.secret() {
                    return Err(Diagnostic::new(
                        i.span,
                        "cannot index an array with a secret value",
                    )
                    .help("use select(array, index), which reads every element"));
                }
                let k = self.public_int(&iv, i.span, "an index")?;
                let n = items.len();
                usize::try_from(k)
                    .ok()
                    .and_then(|k| items.into_iter().nth(k))
                    .ok_or_else(|| {
                        Diagnostic::new(
                            i.span,
                            format!("index {k} is out of bounds for an array of {n}"),
                        )
                    })
            }
            ExprKind::Field(t, k, fs) => {
                let tv = self.expr(t)?;
                let Val::Tuple(items) = tv else {
                    return Err(Diagnostic::new(
                        *fs,
                        format!("{} has no fields", tv.describe()),
                    ));
                };
                let n = items.len();
                items
                    .into_iter()
                    .nth(*k as usize)
                    .ok_or_else(|| Diagnostic::new(*fs, format!("no field {k} in a tuple of {n}")))
            }
            ExprKind::Cast(inner, t) => {
                let v = self.expr(inner)?;
                let t = self.ty(t)?;
                self.cast(v, &t, e.span)
            }
            ExprKind::If(c, then, els) => self.if_expr(c, then, els.as_deref(), e.span),
            ExprKind::Block(b) => self.block(b),
            ExprKind::Array(items) => {
                let mut vals = Vec::with_capacity(items.len());
                for x in items {
                    vals.push(self.expr(x)?);
                }
                // Literals take the type of the first typed element.
                if let Some(t) = vals.iter().find_map(Val::ty) {
                    vals = vals
                        .into_iter()
                        .zip(items)
                        .map(|(v, x)| self.coerce(v, &t, x.span))
                        .collect::<CResult<_>>()?;
                }
                Ok(Val::Array(vals))
            }
            ExprKind::Repeat(x, n) => {
                let v = self.expr(x)?;
                let nv = self.expr(n)?;
                let k = self.public_int(&nv, n.span, "an array length")?;
                let k = array_len(k, n.span)?;
                let arith = self.arith.is_some();
                let (limit, unit) = if arith {
                    (self.limits.max_value_bits / 8, "values")
                } else {
                    (self.limits.max_value_bits, "bits")
                };
                if weight(&v, arith).saturating_mul(k as u64) > limit {
                    return Err(Diagnostic::new(
                        e.span,
                        format!("this array is larger than the limit of {limit} {unit}"),
                    ));
                }
                Ok(Val::Array(vec![v; k]))
            }
            ExprKind::Tuple(items) => Ok(Val::Tuple(
                items.iter().map(|x| self.expr(x)).collect::<CResult<_>>()?,
            )),
        }
    }

    /// Whether `e` is a variable, or elements and fields of one.
    fn is_variable_place(&self, e: &Expr) -> bool {
        let mut cur = e;
        loop {
            match &cur.kind {
                ExprKind::Name(n) => return self.lookup(n).is_some(),
                ExprKind::Index(a, _) | ExprKind::Field(a, _, _) => cur = a,
                _ => return false,
            }
        }
    }

    /// Walks a place `v[i].0[j]...` from the outside in: the variable's
    /// name and span, and the steps from it down to the part named. Indexes
    /// must be public (else `secret` and `help`) and not negative. `None`
    /// when `e` is not a place.
    fn place_path(
        &mut self,
        e: &'a Expr,
        secret: &str,
        help: &str,
    ) -> CResult<Option<(&'a str, Span, Vec<Step>)>> {
        let mut path = Vec::new();
        let mut cur = e;
        let root = loop {
            match &cur.kind {
                ExprKind::Name(n) => break n,
                ExprKind::Index(a, i) => {
                    let iv = self.expr(i)?;
                    if iv.secret() {
                        return Err(Diagnostic::new(i.span, secret).help(help));
                    }
                    let k = self.public_int(&iv, i.span, "an index")?;
                    if k < 0 {
                        return Err(Diagnostic::new(i.span, format!("index {k} is negative")));
                    }
                    path.push(Step::Index(
                        usize::try_from(k).unwrap_or(usize::MAX),
                        i.span,
                        a.span,
                    ));
                    cur = a;
                }
                ExprKind::Field(t, k, fs) => {
                    path.push(Step::Field(*k, *fs));
                    cur = t;
                }
                _ => return Ok(None),
            }
        };
        path.reverse();
        Ok(Some((root.as_str(), cur.span, path)))
    }

    /// Reads `v[i].0[j]...` by reference, cloning only the part read: a
    /// loop over a large array costs its length, not its length squared.
    fn read_place(&mut self, e: &'a Expr) -> CResult<Val> {
        let Some((root, root_span, path)) = self.place_path(
            e,
            "cannot index an array with a secret value",
            "use select(array, index), which reads every element",
        )?
        else {
            return Err(Diagnostic::new(e.span, "internal: not a place"));
        };
        let Some(mut v) = self.lookup(root) else {
            return Err(Diagnostic::new(root_span, format!("unknown name `{root}`")));
        };
        for step in &path {
            v = match (step, v) {
                (Step::Index(k, ispan, _), Val::Array(items)) => {
                    items.get(*k).ok_or_else(|| {
                        Diagnostic::new(
                            *ispan,
                            format!("index {k} is out of bounds for an array of {}", items.len()),
                        )
                    })?
                }
                (Step::Index(_, _, aspan), other) => {
                    return Err(Diagnostic::new(
                        *aspan,
                        format!("cannot index {}", other.describe()),
                    )
                    .help("only arrays have elements"));
                }
                (Step::Field(k, fs), Val::Tuple(items)) => {
                    items.get(*k as usize).ok_or_else(|| {
                        Diagnostic::new(*fs, format!("no field {k} in a tuple of {}", items.len()))
                    })?
                }
                (Step::Field(_, fs), other) => {
                    return Err(Diagnostic::new(
                        *fs,
                        format!("{} has no fields", other.describe()),
                    ));
                }
            };
        }
        Ok(v.clone())
    }

    fn similar(&self, n: &str) -> Option<String> {
        let mut names: Vec<&String> = self.globals.keys().collect();
        for s in &self.scopes {
            names.extend(s.keys());
        }
        names
            .into_iter()
            .filter(|m| edit_distance(n, m) <= max_typo(n))
            .min_by_key(|m| (edit_distance(n, m), (*m).clone()))
            .cloned()
    }

    fn if_expr(
        &mut self,
        c: &'a Expr,
        then: &'a Block,
        els: Option<&'a Expr>,
        span: Span,
    ) -> CResult<Val> {
        let cv = self.expr(c)?;
        let Val::Bool(bit, secret) = cv else {
            return Err(Diagnostic::new(
                c.span,
                format!("the condition is {}, not bool", cv.describe()),
            )
            .help("compare it: `x != 0`"));
        };
        if !secret {
            let taken = bit.as_const().unwrap_or(false);
            return if taken {
                let v = self.block(then)?;
                if els.is_none() && v != Val::unit() {
                    return Err(no_else(span));
                }
                Ok(v)
            } else {
                match els {
                    Some(e) => self.expr(e),
                    None => Ok(Val::unit()),
                }
            };
        }
        // Secret: both branches, then a mux of every variable they assign.
        let mut assigned = HashSet::new();
        collect_assigned_block(then, &mut assigned);
        if let Some(e) = els {
            collect_assigned_expr(e, &mut assigned);
        }
        // Sorted: the circuit must not depend on a hash order, or two parties
        // compiling the same program would disagree.
        let mut names: Vec<String> = assigned
            .into_iter()
            .filter(|n| self.scopes.iter().any(|s| s.contains_key(n)))
            .collect();
        names.sort_unstable();
        let before: Vec<Val> = names
            .iter()
            .filter_map(|n| self.lookup(n).cloned())
            .collect();
        let tv = self.block(then)?;
        let after_then: Vec<Val> = names
            .iter()
            .filter_map(|n| self.lookup(n).cloned())
            .collect();
        for (n, v) in names.iter().zip(&before) {
            self.set_var(n, v.clone());
        }
        let ev = match els {
            Some(e) => self.expr(e)?,
            None => Val::unit(),
        };
        for (n, t) in names.iter().zip(after_then) {
            let Some(f) = self.lookup(n).cloned() else {
                continue;
            };
            if t == f {
                self.set_var(n, t);
                continue;
            }
            let (t, f) = self.unify(t, f, span).map_err(|d| {
                Diagnostic::new(
                    span,
                    format!(
                        "`{n}` takes different types in the two branches: {}",
                        d.message
                    ),
                )
            })?;
            if t.ty().is_none() {
                return Err(Diagnostic::new(
                    span,
                    format!("`{n}` is changed under a secret condition but has no type"),
                )
                .help(format!(
                    "give it one where it is declared: `let mut {n}: u32 = 0;`"
                )));
            }
            let m = self.mux(bit, t, f, span)?;
            self.set_var(n, m);
        }
        if els.is_none() && tv != Val::unit() {
            return Err(no_else(span));
        }
        let (tv, ev) = self.unify(tv, ev, span).map_err(|d| {
            Diagnostic::new(span, format!("the branches of `if` differ: {}", d.message))
        })?;
        if tv == ev {
            return Ok(tv);
        }
        if tv.ty().is_none() {
            return Err(Diagnostic::new(
                span,
                "the branches' values are integers of no known type",
            )
            .help("give one of them a type: `5 as u32`"));
        }
        self.mux(bit, tv, ev, span)
    }

    fn set_var(&mut self, name: &str, v: Val) {
        for s in self.scopes.iter_mut().rev() {
            if let Some(var) = s.get_mut(name) {
                var.val = v;
                return;
            }
        }
    }

    fn mux(&mut self, s: Bit, t: Val, f: Val, span: Span) -> CResult<Val> {
        if let Some(v) = self.arith_mux(s, &t, &f) {
            return Ok(v);
        }
        Ok(match (t, f) {
            (Val::Bool(a, _), Val::Bool(b, _)) => Val::Bool(self.b.mux_bit(s, a, b), true),
            (Val::Int(ty, a, _), Val::Int(_, b, _)) => Val::Int(ty, self.b.mux(s, &a, &b), true),
            (Val::Fix(a, _), Val::Fix(b, _)) => Val::Fix(self.b.mux(s, &a, &b), true),
            (Val::Array(a), Val::Array(b)) if a.len() == b.len() => {
                Val::Array(self.mux_items(s, a, b, span)?)
            }
            (Val::Tuple(a), Val::Tuple(b)) if a.len() == b.len() => {
                Val::Tuple(self.mux_items(s, a, b, span)?)
            }
            (t, f) => {
                return Err(Diagnostic::new(
                    span,
                    format!("the branches differ: {} and {}", t.describe(), f.describe()),
                ));
            }
        })
    }

    fn mux_items(&mut self, s: Bit, a: Vec<Val>, b: Vec<Val>, span: Span) -> CResult<Vec<Val>> {
        a.into_iter()
            .zip(b)
            .map(|(x, y)| self.mux(s, x, y, span))
            .collect()
    }

    fn unary(&mut self, op: UnOp, v: Val, span: Span) -> CResult<Val> {
        if op == UnOp::Neg
            && let Some(r) = self.arith_neg(&v)
        {
            return Ok(r);
        }
        match (op, v) {
            (UnOp::Neg, Val::Lit(x)) => {
                if lit_in_range(-x) {
                    Ok(Val::Lit(-x))
                } else {
                    Err(Diagnostic::new(
                        span,
                        format!("-{x} is out of the range of 64-bit integers"),
                    ))
                }
            }
            (UnOp::Neg, Val::Int(t, w, s)) => Ok(Val::Int(t, self.b.neg(&w), s)),
            (UnOp::Neg, Val::Fix(w, s)) => Ok(Val::Fix(self.b.neg(&w), s)),
            (UnOp::Not, Val::Bool(b, s)) => Ok(Val::Bool(self.b.not_bit(b), s)),
            (UnOp::Not, Val::Int(t, w, s)) => Ok(Val::Int(t, self.b.not(&w), s)),
            (UnOp::Not, Val::Lit(_)) => Err(Diagnostic::new(
                span,
                "`!` on an integer literal of no known width",
            )
            .help("give it a type first: `!(5 as u8)`")),
            (UnOp::Neg, Val::Bool(..)) => {
                Err(Diagnostic::new(span, "cannot negate a bool").help("use `!` for logical not"))
            }
            (op, v) => Err(Diagnostic::new(
                span,
                format!(
                    "`{}` is not defined for {}",
                    if op == UnOp::Neg { "-" } else { "!" },
                    v.describe()
                ),
            )),
        }
    }

    fn binary(&mut self, op: BinOp, a: Val, b: Val, span: Span, _op_span: Span) -> CResult<Val> {
        use BinOp::*;
        if matches!(op, Shl | Shr) {
            return self.shift(op, a, b, span);
        }
        if let (Val::Lit(x), Val::Lit(y)) = (&a, &b) {
            return lit_binary(op, *x, *y, span);
        }
        let (a, b) = self.unify(a, b, span)?;
        if let Some(v) = self.arith_binary(op, &a, &b) {
            return Ok(v);
        }
        if let Some(v) = self.arith_binary(op, &a, &b) {
            return Ok(v);
        }
        let secret = a.secret() || b.secret();
        let undefined = |what: &str| {
            let mut d =
                Diagnostic::new(span, format!("`{}` is not defined for {what}", op.symbol()));
            if matches!(op, And | Or) {
                d = d.help("`&&` and `||` take bools; use `&` and `|` for bitwise operations");
            } else if what == "bool" {
                d = d.help("on bools use `&&`, `||`, `^`, `==` or `!=`");
            }
            d
        };
        let b_ = &mut self.b;
        Ok(match (a, b) {
            (Val::Bool(x, _), Val::Bool(y, _)) => {
                let r = match op {
                    And | BitAnd => b_.and_bit(x, y),
                    Or | BitOr => b_.or_bit(x, y),
                    BitXor | Ne => b_.xor_bit(x, y),
                    Eq => {
                        let d = b_.xor_bit(x, y);
                        b_.not_bit(d)
                    }
                    _ => return Err(undefined("bool")),
                };
                Val::Bool(r, secret)
            }
            (Val::Int(t, x, _), Val::Int(_, y, _)) => {
                let sg = sign(t);
                let w = match op {
                    Add => b_.add(&x, &y),
                    Sub => b_.sub(&x, &y),
                    Mul => b_.mul(&x, &y),
                    Div => b_.div(&x, &y, sg),
                    Rem => b_.rem(&x, &y, sg),
                    BitAnd => b_.and(&x, &y),
                    BitOr => b_.or(&x, &y),
                    BitXor => b_.xor(&x, &y),
                    Eq | Ne | Lt | Le | Gt | Ge => {
                        return Ok(Val::Bool(b_.compare(cmp_of(op), &x, &y, sg), secret));
                    }
                    _ => return Err(undefined(&Type::Int(t).to_string())),
                };
                Val::Int(t, w, secret)
            }
            (Val::Fix(x, _), Val::Fix(y, _)) => {
                let w = match op {
                    Add => b_.add(&x, &y),
                    Sub => b_.sub(&x, &y),
                    Mul => fix_mul(b_, &x, &y),
                    Div => fix_div(b_, &x, &y),
                    Eq | Ne | Lt | Le | Gt | Ge => {
                        return Ok(Val::Bool(
                            b_.compare(cmp_of(op), &x, &y, Signedness::Signed),
                            secret,
                        ));
                    }
                    _ => return Err(undefined("fix")),
                };
                Val::Fix(w, secret)
            }
            (x @ (Val::Array(_) | Val::Tuple(_)), y) if matches!(op, Eq | Ne) => {
                if x.ty().is_none() {
                    return Err(
                        Diagnostic::new(span, "cannot compare values of no known type")
                            .help("give the elements a type: `[1 as u8, 2]`"),
                    );
                }
                let (mut xb, mut yb) = (Vec::new(), Vec::new());
                x.flatten(&mut xb);
                y.flatten(&mut yb);
                let e = b_.eq(&Word::from_bits(xb), &Word::from_bits(yb));
                let r = if op == Eq { e } else { b_.not_bit(e) };
                Val::Bool(r, secret)
            }
            (x, _) => return Err(undefined(&x.describe())),
        })
    }

    fn shift(&mut self, op: BinOp, a: Val, amount: Val, span: Span) -> CResult<Val> {
        let (t, w, s) = match a {
            Val::Int(t, w, s) => (t, w, s),
            Val::Lit(x) => {
                let k = self.public_int(&amount, span, "the shift amount of an untyped literal")?;
                let r = if k < 0 {
                    None
                } else if op == BinOp::Shr {
                    Some(x >> k.min(127))
                } else if k < 127 {
                    x.checked_mul(1i128 << k)
                } else {
                    (x == 0).then_some(0)
                };
                return r.filter(|v| lit_in_range(*v)).map(Val::Lit).ok_or_else(|| {
                    Diagnostic::new(span, format!("{x} {} {k} overflows", op.symbol()))
                        .help("give the value a type to get a fixed-width shift")
                });
            }
            other => {
                return Err(Diagnostic::new(
                    span,
                    format!("`{}` is not defined for {}", op.symbol(), other.describe()),
                )
                .help("shifts take integers"));
            }
        };
        let n = t.bits as usize;
        let shifted = |w: &Word, k: usize| -> Word {
            match (op, t.signed) {
                (BinOp::Shl, _) => w.shl(k),
                (_, true) => w.shr_arithmetic(k),
                (_, false) => w.shr_logical(k),
            }
        };
        match &amount {
            Val::Int(at, aw, true) => {
                // A barrel shifter on the amount's bits; an amount of the
                // width or more gives the fill.
                let mut cur = w;
                let mut high = Vec::new();
                for j in 0..at.bits as usize {
                    if j < 31 && (1usize << j) < n {
                        let sh = shifted(&cur, 1 << j);
                        cur = self.b.mux(aw.bit(j), &sh, &cur);
                    } else {
                        high.push(aw.bit(j));
                    }
                }
                let over = self.b.or_reduce(&high);
                let fill = shifted(&cur, n);
                let r = self.b.mux(over, &fill, &cur);
                Ok(Val::Int(t, r, true))
            }
            Val::Int(at, aw, false) => {
                // Read as unsigned in its own type, as a secret amount is.
                let raw = aw.as_const().unwrap_or(u64::MAX);
                let raw = if at.bits < 64 {
                    raw & ((1 << at.bits) - 1)
                } else {
                    raw
                };
                let k = usize::try_from(raw).unwrap_or(usize::MAX).min(n);
                Ok(Val::Int(t, shifted(&w, k), s))
            }
            Val::Lit(_) => {
                let k = self.public_int(&amount, span, "a shift amount")?;
                if k < 0 {
                    return Err(Diagnostic::new(span, format!("negative shift amount {k}"))
                        .help("shift the other way"));
                }
                let k = usize::try_from(k).unwrap_or(usize::MAX).min(n);
                Ok(Val::Int(t, shifted(&w, k), s))
            }
            other => Err(Diagnostic::new(
                span,
                format!(
                    "the shift amount must be an integer, found {}",
                    other.describe()
                ),
            )),
        }
    }

    fn cast(&mut self, v: Val, t: &Type, span: Span) -> CResult<Val> {
        let s = v.secret();
        let resize = |w: &Word, from_signed: bool, to: usize| -> Word {
            if to <= w.width() {
                w.slice(0..to)
            } else if from_signed {
                w.sext(to)
            } else {
                w.zext(to)
            }
        };
        Ok(match (v, t) {
            (Val::Lit(x), Type::Int(it)) => {
                Val::Int(*it, Word::constant(x as u64, it.bits as usize), false)
            }
            (v @ Val::Lit(_), Type::Fix) => self.coerce(v, t, span)?,
            (Val::Bool(b, _), Type::Int(it)) => {
                Val::Int(*it, Word::from_bits(vec![b]).zext(it.bits as usize), s)
            }
            (Val::Bool(b, _), Type::Fix) => Val::Fix(
                Word::from_bits(vec![b])
                    .zext(FIX_BITS as usize)
                    .shl(FIX_FRAC as usize),
                s,
            ),
            (Val::Int(from, w, _), Type::Int(it)) => {
                Val::Int(*it, resize(&w, from.signed, it.bits as usize), s)
            }
            (Val::Int(from, w, _), Type::Fix) => Val::Fix(
                resize(&w, from.signed, FIX_BITS as usize).shl(FIX_FRAC as usize),
                s,
            ),
            (Val::Fix(w, _), Type::Int(it)) => {
                let int = w.shr_arithmetic(FIX_FRAC as usize);
                Val::Int(*it, resize(&int, true, it.bits as usize), s)
            }
            (v @ (Val::Fix(..) | Val::Bool(..)), Type::Fix | Type::Bool)
                if v.ty().as_ref() == Some(t) =>
            {
                v
            }
            (v, Type::Bool) => {
                return Err(Diagnostic::new(
                    span,
                    format!("cannot convert {} to bool", v.describe()),
                )
                .help("compare instead: `x != 0`"));
            }
            (v, t) => {
                return Err(Diagnostic::new(
                    span,
                    format!("cannot convert {} to {t}", v.describe()),
                )
                .help("`as` converts between bool, integers and fix"));
            }
        })
    }

    fn call(&mut self, name: &'a Name, args: &'a [Expr], span: Span) -> CResult<Val> {
        self.step(span)?;
        if BUILTINS.contains(&name.text.as_str()) {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(self.expr(a)?);
            }
            return self.builtin(name, vals, args, span);
        }
        let Some(f) = self.fns.get(name.text.as_str()).copied() else {
            let mut d = Diagnostic::new(name.span, format!("unknown function `{}`", name.text));
            let near = self
                .fns
                .keys()
                .copied()
                .chain(BUILTINS.iter().copied())
                .filter(|m| edit_distance(&name.text, m) <= max_typo(&name.text))
                .min_by_key(|m| (edit_distance(&name.text, m), *m));
            if let Some(m) = near {
                d = d.help(format!("did you mean `{m}`?"));
            }
            return Err(d);
        };
        if name.text == "main" {
            return Err(Diagnostic::new(name.span, "`main` cannot be called")
                .help("move the shared code into a helper function"));
        }
        if self.stack.contains(&name.text.as_str()) {
            return Err(Diagnostic::new(
                name.span,
                format!(
                    "`{}` calls itself: {} -> {}",
                    name.text,
                    self.stack.join(" -> "),
                    name.text
                ),
            )
            .help("functions are inlined, so recursion is not allowed; use a `for` loop"));
        }
        if self.stack.len() >= MAX_CALL_DEPTH {
            return Err(Diagnostic::new(
                name.span,
                format!("calls nested deeper than {MAX_CALL_DEPTH} functions"),
            ));
        }
        if args.len() != f.params.len() {
            return Err(Diagnostic::new(
                span,
                format!(
                    "`{}` takes {} argument{}, {} given",
                    name.text,
                    f.params.len(),
                    if f.params.len() == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.expr(a)?);
        }
        // The callee sees the globals and its parameters only.
        let saved = std::mem::take(&mut self.scopes);
        self.stack.push(&f.name.text);
        let r = self.inline(f, vals, args);
        self.stack.pop();
        self.scopes = saved;
        r
    }

    fn inline(&mut self, f: &'a FnDecl, vals: Vec<Val>, args: &'a [Expr]) -> CResult<Val> {
        let mut scope = HashMap::new();
        for ((p, v), a) in f.params.iter().zip(vals).zip(args) {
            if let Some(party) = &p.party {
                return Err(
                    Diagnostic::new(party.span, "only the inputs of `main` name a party")
                        .help("a helper's parameters take whatever the caller passes"),
                );
            }
            self.check_var_name(&p.name)?;
            let t = self.ty(&p.ty)?;
            let v = self.coerce(v, &t, a.span).map_err(|d| {
                Diagnostic::new(
                    a.span,
                    format!(
                        "argument `{}` of `{}`: {}",
                        p.name.text, f.name.text, d.message
                    ),
                )
            })?;
            scope.insert(
                p.name.text.clone(),
                Var {
                    val: v,
                    mutable: false,
                    counter: false,
                },
            );
        }
        let ret = match &f.ret {
            None => Type::Tuple(Vec::new()),
            Some(r) => {
                if let Some(rv) = r
                    .reveal
                    .as_ref()
                    .or(r.items.iter().find_map(|i| i.reveal.as_ref()))
                {
                    return Err(Diagnostic::new(
                        rv.span(),
                        "only the outputs of `main` are revealed",
                    )
                    .help("a helper returns its value to the caller: drop the `@`"));
                }
                if let Some(n) = r.items.iter().find_map(|i| i.name.as_ref()) {
                    return Err(Diagnostic::new(
                        n.span,
                        "only the outputs of `main` have names",
                    ));
                }
                let ts = r
                    .items
                    .iter()
                    .map(|i| self.ty(&i.ty))
                    .collect::<CResult<Vec<_>>>()?;
                if r.tuple {
                    Type::Tuple(ts)
                } else {
                    ts.into_iter().next().unwrap_or(Type::Tuple(Vec::new()))
                }
            }
        };
        self.scopes.push(scope);
        let v = self.block(&f.body)?;
        let at = f.body.tail.as_ref().map_or(f.body.span, |t| t.span);
        self.coerce(v, &ret, at)
    }

    fn builtin(&mut self, name: &Name, vals: Vec<Val>, args: &[Expr], span: Span) -> CResult<Val> {
        let n = name.text.as_str();
        let arity = |k: usize| -> CResult<()> {
            if vals.len() == k {
                Ok(())
            } else {
                Err(Diagnostic::new(
                    span,
                    format!(
                        "`{n}` takes {k} argument{}, {} given",
                        if k == 1 { "" } else { "s" },
                        vals.len()
                    ),
                ))
            }
        };
        let array = |v: Val, i: usize| -> CResult<Vec<Val>> {
            match v {
                Val::Array(items) => Ok(items),
                other => Err(Diagnostic::new(
                    args.get(i).map_or(span, |a| a.span),
                    format!("`{n}` needs an array here, found {}", other.describe()),
                )),
            }
        };
        match n {
            "len" => {
                arity(1)?;
                let items = array(vals.into_iter().next().unwrap_or(Val::unit()), 0)?;
                Ok(Val::Lit(items.len() as i128))
            }
            "min" | "max" => {
                let items = match vals.len() {
                    1 => array(vals.into_iter().next().unwrap_or(Val::unit()), 0)?,
                    2 => vals,
                    _ => {
                        return Err(Diagnostic::new(
                            span,
                            format!("`{n}` takes two values or one array"),
                        )
                        .help(format!("`{n}(a, b)` or `{n}(array)`")));
                    }
                };
                if items.is_empty() {
                    return Err(Diagnostic::new(span, format!("`{n}` of an empty array")));
                }
                let is_max = n == "max";
                self.reduce(items, span, &mut |c, a, b| c.min_max(is_max, a, b, span))
            }
            "abs" => {
                arity(1)?;
                Ok(match vals.into_iter().next().unwrap_or(Val::unit()) {
                    Val::Lit(x) if lit_in_range(x.abs()) => Val::Lit(x.abs()),
                    Val::Int(t, w, s) if t.signed => Val::Int(t, self.b.abs(&w), s),
                    v @ Val::Int(..) => v,
                    Val::Fix(w, s) => Val::Fix(self.b.abs(&w), s),
                    other => {
                        return Err(Diagnostic::new(
                            span,
                            format!("`abs` is not defined for {}", other.describe()),
                        ));
                    }
                })
            }
            "sum" => {
                arity(1)?;
                let items = array(vals.into_iter().next().unwrap_or(Val::unit()), 0)?;
                if items.is_empty() {
                    return Ok(Val::Lit(0));
                }
                self.reduce(items, span, &mut |c, a, b| {
                    c.binary(BinOp::Add, a, b, span, span)
                })
            }
            "dot" => {
                arity(2)?;
                let mut it = vals.into_iter();
                let a = array(it.next().unwrap_or(Val::unit()), 0)?;
                let b = array(it.next().unwrap_or(Val::unit()), 1)?;
                if a.len() != b.len() {
                    return Err(Diagnostic::new(
                        span,
                        format!("`dot` of arrays of {} and {} elements", a.len(), b.len()),
                    )
                    .help("both arrays must have the same length"));
                }
                if a.is_empty() {
                    return Ok(Val::Lit(0));
                }
                let mut pairs = Vec::with_capacity(a.len());
                for (x, y) in a.iter().cloned().zip(b.iter().cloned()) {
                    pairs.push(self.unify(x, y, span)?);
                }
                if pairs
                    .iter()
                    .all(|p| matches!(p, (Val::Fix(..), Val::Fix(..))))
                {
                    return Ok(self.fix_dot(pairs));
                }
                let mut prods = Vec::with_capacity(a.len());
                for (x, y) in a.into_iter().zip(b) {
                    prods.push(self.binary(BinOp::Mul, x, y, span, span)?);
                }
                self.reduce(prods, span, &mut |c, a, b| {
                    c.binary(BinOp::Add, a, b, span, span)
                })
            }
            "select" => {
                arity(2)?;
                let mut it = vals.into_iter();
                let items = array(it.next().unwrap_or(Val::unit()), 0)?;
                let idx = it.next().unwrap_or(Val::unit());
                if items.is_empty() {
                    return Err(Diagnostic::new(span, "`select` from an empty array"));
                }
                let ispan = args.get(1).map_or(span, |a| a.span);
                match idx {
                    Val::Int(_, w, true) => self.select_secret(items, &w, span),
                    Val::Bool(..) | Val::Fix(..) | Val::Array(_) | Val::Tuple(_) => {
                        Err(Diagnostic::new(
                            ispan,
                            format!("an index must be an integer, found {}", idx.describe()),
                        )
                        .help("convert it with `as u32`"))
                    }
                    other => {
                        let k = self.public_int(&other, ispan, "an index")?;
                        let len = items.len();
                        usize::try_from(k)
                            .ok()
                            .and_then(|k| items.into_iter().nth(k))
                            .ok_or_else(|| {
                                Diagnostic::new(
                                    ispan,
                                    format!("index {k} is out of bounds for an array of {len}"),
                                )
                            })
                    }
                }
            }
            _ => Err(Diagnostic::new(
                name.span,
                format!("unknown function `{n}`"),
            )),
        }
    }

    /// `dot` of `fix` arrays: the exact sum of the exact products, rounded
    /// down once (bits 16..80 of the 80-bit sum).
    fn fix_dot(&mut self, pairs: Vec<(Val, Val)>) -> Val {
        let secret = pairs.iter().any(|(x, y)| x.secret() || y.secret());
        let words: Vec<(Word, Word)> = pairs
            .into_iter()
            .filter_map(|p| match p {
                (Val::Fix(x, _), Val::Fix(y, _)) => Some((x, y)),
                _ => None,
            })
            .collect();
        if secret && let Some(v) = self.arith_fix_dot(&words) {
            return v;
        }
        let n = (FIX_BITS + FIX_FRAC) as usize;
        let mut acc: Option<Word> = None;
        for (x, y) in &words {
            let p = self.b.mul(&x.sext(n), &y.sext(n));
            acc = Some(match acc {
                None => p,
                Some(s) => self.b.add(&s, &p),
            });
        }
        let sum = acc.unwrap_or_else(|| Word::constant(0, n));
        Val::Fix(sum.slice(FIX_FRAC as usize..n), secret)
    }

    fn min_max(&mut self, is_max: bool, a: Val, b: Val, span: Span) -> CResult<Val> {
        if let (Val::Lit(x), Val::Lit(y)) = (&a, &b) {
            return Ok(Val::Lit(if is_max { *x.max(y) } else { *x.min(y) }));
        }
        let (a, b) = self.unify(a, b, span)?;
        let ordered = match (&a, &b) {
            (Val::Fix(..), Val::Fix(..)) => true,
            (Val::Int(t, ..), Val::Int(..)) => t.signed,
            _ => false,
        };
        if ordered
            && (a.secret() || b.secret())
            && let Some(Val::Bool(lt, _)) = self.arith_binary(BinOp::Lt, &a, &b)
        {
            let (t, f) = if is_max { (b, a) } else { (a, b) };
            return self.mux(lt, t, f, span);
        }
        let secret = a.secret() || b.secret();
        let f = |c: &mut Self, x: &Word, y: &Word, sg| {
            if is_max {
                c.b.max(x, y, sg)
            } else {
                c.b.min(x, y, sg)
            }
        };
        match (a, b) {
            (Val::Int(t, x, _), Val::Int(_, y, _)) => {
                Ok(Val::Int(t, f(self, &x, &y, sign(t)), secret))
            }
            (Val::Fix(x, _), Val::Fix(y, _)) => {
                Ok(Val::Fix(f(self, &x, &y, Signedness::Signed), secret))
            }
            (x, _) => Err(Diagnostic::new(
                span,
                format!(
                    "`{}` is not defined for {}",
                    if is_max { "max" } else { "min" },
                    x.describe()
                ),
            )),
        }
    }

    /// Folds `items` pairwise, as a balanced tree (depth log n).
    fn reduce(
        &mut self,
        mut items: Vec<Val>,
        span: Span,
        f: &mut dyn FnMut(&mut Self, Val, Val) -> CResult<Val>,
    ) -> CResult<Val> {
        while items.len() > 1 {
            self.step(span)?;
            let mut next = Vec::with_capacity(items.len().div_ceil(2));
            let mut it = items.into_iter();
            while let Some(a) = it.next() {
                match it.next() {
                    Some(b) => next.push(f(self, a, b)?),
                    None => next.push(a),
                }
            }
            items = next;
        }
        items
            .into_iter()
            .next()
            .ok_or_else(|| Diagnostic::new(span, "internal: empty reduction"))
    }

    /// `items[idx]` for a secret index: a tree of multiplexers on the
    /// index's bits, at most `2^ceil(log2 n) - 1` multiplexers of `width` AND
    /// (fewer where padding repeats the last element), plus one for an index
    /// past the end, which gives the last element.
    fn select_secret(&mut self, items: Vec<Val>, idx: &Word, span: Span) -> CResult<Val> {
        let n = items.len();
        let Some(t) = items.iter().find_map(Val::ty) else {
            return Err(
                Diagnostic::new(span, "`select` from an array of untyped literals")
                    .help("give the elements a type: `[1 as u32, 2, 3]`"),
            );
        };
        let mut level: Vec<Val> = items
            .into_iter()
            .map(|v| coerce_static(v, &t, span))
            .collect::<CResult<_>>()?;
        let bits_needed = usize::BITS as usize - (n - 1).leading_zeros() as usize;
        let last = level[n - 1].clone();
        level.resize(1 << bits_needed, last.clone());
        for j in 0..bits_needed {
            self.step(span)?;
            let s = if j < idx.width() {
                idx.bit(j)
            } else {
                Bit::ZERO
            };
            let mut next = Vec::with_capacity(level.len() / 2);
            let mut it = level.into_iter();
            while let (Some(lo), Some(hi)) = (it.next(), it.next()) {
                next.push(if lo == hi {
                    lo
                } else {
                    self.mux(s, hi, lo, span)?
                });
            }
            level = next;
        }
        let mut r = level.pop().unwrap_or(last.clone());
        let high: Vec<Bit> = idx.bits().iter().skip(bits_needed).copied().collect();
        let over = self.b.or_reduce(&high);
        if over != Bit::ZERO {
            r = self.mux(over, last, r, span)?;
        }
        Ok(mark_secret(r))
    }
}

/// The bits a value holds, counting an untyped literal as 64 and anything
/// as at least 1: what an array of it costs.
/// A value's size: bits, or with `arith` scalar values.
fn weight(v: &Val, arith: bool) -> u64 {
    match v {
        Val::Lit(_) if arith => 1,
        Val::Lit(_) => 64,
        Val::Bool(..) => 1,
        Val::Int(..) | Val::Fix(..) if arith => 1,
        Val::Int(_, w, _) | Val::Fix(w, _) => w.width() as u64,
        Val::Array(items) | Val::Tuple(items) => items
            .iter()
            .map(|x| weight(x, arith))
            .fold(0u64, u64::saturating_add)
            .max(1),
    }
}

/// One step into a value: an element (its index, the index's span, the
/// array's span) or a tuple field (its number and span).
#[derive(Clone, Copy, Debug)]
enum Step {
    Index(usize, Span, Span),
    Field(u32, Span),
}

/// What a step takes and where, for an error.
fn slot_desc(step: &Step) -> (&'static str, Span) {
    match *step {
        Step::Index(_, s, _) => ("an element of", s),
        Step::Field(_, s) => ("a field of", s),
    }
}

fn mark_secret(v: Val) -> Val {
    match v {
        Val::Bool(b, _) => Val::Bool(b, true),
        Val::Int(t, w, _) => Val::Int(t, w, true),
        Val::Fix(w, _) => Val::Fix(w, true),
        Val::Array(v) => Val::Array(v.into_iter().map(mark_secret).collect()),
        Val::Tuple(v) => Val::Tuple(v.into_iter().map(mark_secret).collect()),
        l @ Val::Lit(_) => l,
    }
}

fn cmp_of(op: BinOp) -> quorate_circuits::Cmp {
    use quorate_circuits::Cmp;
    match op {
        BinOp::Lt => Cmp::Lt,
        BinOp::Le => Cmp::Le,
        BinOp::Gt => Cmp::Gt,
        BinOp::Ge => Cmp::Ge,
        BinOp::Ne => Cmp::Ne,
        _ => Cmp::Eq,
    }
}

/// `x * y` in Q47.16: bits 16..80 of the 128-bit product (rounds toward
/// negative infinity). Only the low 80 bits are needed, and the product of
/// the operands sign-extended to 80 bits has them: 80^2 - 80 + 1 = 6321 AND
/// instead of 8128 for the full product, and far fewer for a constant.
fn fix_mul(b: &mut CircuitBuilder<OpSink>, x: &Word, y: &Word) -> Word {
    let n = (FIX_BITS + FIX_FRAC) as usize;
    let low = b.mul(&x.sext(n), &y.sext(n));
    low.slice(FIX_FRAC as usize..n)
}

/// `x / y` in Q47.16: `(x << 16) / y` on 80 bits (rounds toward zero).
fn fix_div(b: &mut CircuitBuilder<OpSink>, x: &Word, y: &Word) -> Word {
    let n = (FIX_BITS + FIX_FRAC) as usize;
    let xe = x.sext(n).shl(FIX_FRAC as usize);
    let ye = y.sext(n);
    b.div(&xe, &ye, Signedness::Signed)
        .slice(0..FIX_BITS as usize)
}

fn lit_binary(op: BinOp, x: i128, y: i128, span: Span) -> CResult<Val> {
    use BinOp::*;
    let over = || {
        Diagnostic::new(span, format!("{x} {} {y} overflows", op.symbol()))
            .help("give one side a type to get wrapping arithmetic")
    };
    let zero = || Diagnostic::new(span, "division by zero in a constant expression");
    let b = |v: bool| Ok(Val::Bool(Bit::Const(v), false));
    let v = match op {
        Add => x.checked_add(y).ok_or_else(over)?,
        Sub => x.checked_sub(y).ok_or_else(over)?,
        Mul => x.checked_mul(y).ok_or_else(over)?,
        Div => {
            if y == 0 {
                return Err(zero());
            }
            x.checked_div(y).ok_or_else(over)?
        }
        Rem => {
            if y == 0 {
                return Err(zero());
            }
            x.checked_rem(y).ok_or_else(over)?
        }
        BitAnd => x & y,
        BitOr => x | y,
        BitXor => x ^ y,
        Eq => return b(x == y),
        Ne => return b(x != y),
        Lt => return b(x < y),
        Le => return b(x <= y),
        Gt => return b(x > y),
        Ge => return b(x >= y),
        And | Or => {
            return Err(Diagnostic::new(
                span,
                format!("`{}` takes bools, not integers", op.symbol()),
            )
            .help("use `&` and `|` for bitwise operations"));
        }
        Shl | Shr => return Err(over()),
    };
    if !lit_in_range(v) {
        return Err(over());
    }
    Ok(Val::Lit(v))
}

/// Untyped integers stay within the 64-bit types' combined range.
fn no_else(span: Span) -> Diagnostic {
    Diagnostic::new(
        span,
        "an `if` without `else` has no value when its condition is false",
    )
    .help("add an `else` branch, or end the branch's last expression with `;`")
}

fn array_len(n: i128, span: Span) -> CResult<usize> {
    if n < 0 {
        return Err(Diagnostic::new(
            span,
            format!("array length {n} is negative"),
        ));
    }
    usize::try_from(n)
        .ok()
        .filter(|&n| n <= 1 << 40)
        .ok_or_else(|| Diagnostic::new(span, format!("array length {n} is too large")))
}

fn lit_in_range(v: i128) -> bool {
    (i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(&v)
}

fn const_int(t: IntTy, w: &Word) -> Option<i128> {
    let raw = w.as_const()?;
    let bits = t.bits;
    let raw = if bits < 64 {
        raw & ((1u64 << bits) - 1)
    } else {
        raw
    };
    Some(if t.signed && bits > 0 && raw >> (bits - 1) & 1 == 1 {
        i128::from(raw) - (1i128 << bits)
    } else {
        i128::from(raw)
    })
}

/// The value of type `ty` whose bits are `word`'s from `at` on, least
/// significant first (advancing `at`): an input's value. A run of wires
/// (an input) is sliced without listing its bits.
fn unflatten(ty: &Type, word: &Word, at: &mut usize, secret: bool) -> Val {
    let mut take = |n: usize| -> Word {
        let end = (*at + n).min(word.width());
        let w = word.slice((*at).min(end)..end);
        *at += n;
        w
    };
    match ty {
        Type::Bool => Val::Bool(take(1).get(0).unwrap_or(Bit::ZERO), secret),
        Type::Int(t) => Val::Int(*t, take(t.bits as usize), secret),
        Type::Fix => Val::Fix(take(FIX_BITS as usize), secret),
        Type::Array(e, n) => Val::Array((0..*n).map(|_| unflatten(e, word, at, secret)).collect()),
        Type::Tuple(ts) => Val::Tuple(ts.iter().map(|t| unflatten(t, word, at, secret)).collect()),
    }
}

/// Every variable assigned anywhere in `b` (in nested blocks, branches,
/// loops and blocks inside expressions too): the variables a secret `if`
/// must multiplex.
fn collect_assigned_block(b: &Block, out: &mut HashSet<String>) {
    for s in &b.stmts {
        match s {
            Stmt::Assign { place, value, .. } => {
                let mut p = place;
                loop {
                    match &p.kind {
                        ExprKind::Name(n) => {
                            out.insert(n.clone());
                            break;
                        }
                        ExprKind::Index(a, _) | ExprKind::Field(a, _, _) => p = a,
                        _ => break,
                    }
                }
                collect_assigned_expr(place, out);
                collect_assigned_expr(value, out);
            }
            Stmt::For {
                start, end, body, ..
            } => {
                collect_assigned_expr(start, out);
                collect_assigned_expr(end, out);
                collect_assigned_block(body, out);
            }
            Stmt::Expr(e) | Stmt::Let { value: e, .. } => collect_assigned_expr(e, out),
        }
    }
    if let Some(t) = &b.tail {
        collect_assigned_expr(t, out);
    }
}

fn collect_assigned_expr(e: &Expr, out: &mut HashSet<String>) {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Decimal(_) | ExprKind::Bool(_) | ExprKind::Name(_) => {}
        ExprKind::Unary(_, x) | ExprKind::Field(x, _, _) | ExprKind::Cast(x, _) => {
            collect_assigned_expr(x, out);
        }
        ExprKind::Binary(_, x, y) | ExprKind::Index(x, y) | ExprKind::Repeat(x, y) => {
            collect_assigned_expr(x, out);
            collect_assigned_expr(y, out);
        }
        ExprKind::Call(_, xs) | ExprKind::Array(xs) | ExprKind::Tuple(xs) => {
            xs.iter().for_each(|x| collect_assigned_expr(x, out));
        }
        ExprKind::If(c, t, els) => {
            collect_assigned_expr(c, out);
            collect_assigned_block(t, out);
            if let Some(x) = els {
                collect_assigned_expr(x, out);
            }
        }
        ExprKind::Block(b) => collect_assigned_block(b, out),
    }
}

/// How many edits a "did you mean" may be away: short names need closer
/// matches.
fn max_typo(name: &str) -> usize {
    match name.chars().count() {
        0..=3 => 1,
        4..=7 => 2,
        _ => 3,
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
/// `v` as a value of type `t`: literals take the type (if they fit);
/// anything else must already have it.
fn coerce_static(v: Val, t: &Type, span: Span) -> CResult<Val> {
    let mismatch = |v: &Val| {
        let mut d = Diagnostic::new(span, format!("expected {t}, found {}", v.describe()));
        if let (Some(Type::Int(_) | Type::Fix | Type::Bool), Type::Int(_) | Type::Fix) = (v.ty(), t)
        {
            d = d.help(format!("convert it with `as {t}`"));
        }
        d
    };
    match (v, t) {
        (Val::Lit(x), Type::Int(it)) => {
            if x < it.min() || x > it.max() {
                return Err(Diagnostic::new(
                    span,
                    format!("{x} does not fit in {t} ({}..={})", it.min(), it.max()),
                ));
            }
            Ok(Val::Int(
                *it,
                Word::constant(x as u64, it.bits as usize),
                false,
            ))
        }
        (Val::Lit(x), Type::Fix) => {
            let raw = x
                .checked_mul(1 << FIX_FRAC)
                .and_then(|r| i64::try_from(r).ok())
                .ok_or_else(|| Diagnostic::new(span, format!("{x} does not fit in fix")))?;
            Ok(Val::Fix(
                Word::constant(raw as u64, FIX_BITS as usize),
                false,
            ))
        }
        (Val::Array(items), Type::Array(elem, n)) => {
            if items.len() != *n {
                return Err(Diagnostic::new(
                    span,
                    format!("expected {t}, found an array of {} elements", items.len()),
                ));
            }
            let items = items
                .into_iter()
                .map(|x| coerce_static(x, elem, span))
                .collect::<CResult<_>>()?;
            Ok(Val::Array(items))
        }
        (Val::Tuple(items), Type::Tuple(ts)) if items.len() == ts.len() => {
            let items = items
                .into_iter()
                .zip(ts)
                .map(|(x, t)| coerce_static(x, t, span))
                .collect::<CResult<_>>()?;
            Ok(Val::Tuple(items))
        }
        (v, t) => {
            if v.ty().as_ref() == Some(t) {
                Ok(v)
            } else {
                Err(mismatch(&v))
            }
        }
    }
}

impl Program {
    /// Runs the program in the clear on one value per input (in order),
    /// giving one value per output: the reference every MPC run must match.
    pub fn eval_plain(
        &self,
        inputs: &[quorate_circuits::Bits],
    ) -> Result<Vec<quorate_circuits::Bits>, quorate_circuits::EvalError> {
        quorate_circuits::evaluate(&self.circuit, inputs)
    }

    /// The index of party `name`.
    pub fn party(&self, name: &str) -> Option<usize> {
        self.parties.iter().position(|p| p == name)
    }
}
