//! The arithmetic lowering: integer and `fix` sums, differences and
//! products become ring ops of a [`MixedCircuit`]; the rest stays Boolean.
//!
//! Every secret integer or `fix` value is still a [`Word`] of bits to the
//! rest of the compiler. A word that an arithmetic op made is a row of
//! [`Op::Bit`] conversions of its ring wire, remembered in
//! [`ArithState::of`]: an arithmetic op on it reads the ring wire, and
//! a Boolean gate on it reads the bits, which costs one A2B. Conversions
//! nobody reads are pruned when the circuit is finished. A Boolean word
//! that meets an arithmetic op is converted once (B2A, [`Op::FromBits`]).

use super::*;

/// What the arithmetic lowering keeps while compiling.
#[derive(Debug, Default)]
pub(super) struct ArithState {
    /// The inputs, as ports.
    pub(super) inputs: Vec<Port>,
    /// Boolean words converted to a ring wire.
    of: HashMap<Vec<Bit>, Wire>,
}

/// An operand of a ring op: public, or a wire.
#[derive(Clone, Copy, Debug)]
enum Operand {
    Public(u128),
    Wire(Wire),
}

/// `v` sign- or zero-extended from `width` bits to the ring.
fn extend(v: u64, width: usize, signed: bool) -> u128 {
    let v = u128::from(v);
    if signed && width > 0 && width < 128 && v >> (width - 1) & 1 == 1 {
        v | (u128::MAX << width)
    } else {
        v
    }
}

impl Compiler<'_> {
    fn op(&mut self, make: impl FnOnce(Wire) -> Op) -> Wire {
        let out = self.b.fresh_wire();
        self.b.sink_mut().push_op(make(out));
        out
    }

    /// The value of an input of type `ty`: integers and `fix` one ring
    /// wire each, bools one bit wire each.
    pub(super) fn arith_input(&mut self, ty: &Type, slots: &mut Vec<Slot>) -> Val {
        match ty {
            Type::Bool => {
                let w = self.b.fresh_wire();
                slots.push(Slot::Bit(w));
                Val::Bool(Bit::Wire(w), true)
            }
            Type::Int(t) => {
                let wire = self.b.fresh_wire();
                slots.push(Slot::Arith {
                    wire,
                    width: t.bits,
                    signed: t.signed,
                });
                Val::Int(*t, self.ring_word(wire, t.bits), true)
            }
            Type::Fix => {
                let wire = self.b.fresh_wire();
                slots.push(Slot::Arith {
                    wire,
                    width: FIX_BITS,
                    signed: true,
                });
                Val::Fix(self.ring_word(wire, FIX_BITS), true)
            }
            Type::Array(elem, n) => {
                Val::Array((0..*n).map(|_| self.arith_input(elem, slots)).collect())
            }
            Type::Tuple(items) => {
                Val::Tuple(items.iter().map(|t| self.arith_input(t, slots)).collect())
            }
        }
    }

    /// The low `width` bits of ring wire `a`, as a word of fresh wires whose
    /// conversions (A2B) are made only if something reads them.
    fn ring_word(&mut self, a: Wire, width: u32) -> Word {
        if width == 0 {
            return Word::default();
        }
        let first = self.b.fresh_wires(width);
        if first.index().checked_add(width).is_none() {
            // Wire ids ran out; finishing reports it.
            return Word::from_bits(vec![Bit::Wire(first); width as usize]);
        }
        if let Some(m) = self.b.sink_mut().mixed() {
            m.declare_bits(first, a, width);
        }
        Word::wire_run(first, width)
    }

    fn ring_of_word(&mut self, w: &Word) -> Option<Wire> {
        if let Some((first, width)) = w.as_wire_run()
            && let Some(a) = self
                .b
                .sink_mut()
                .mixed()
                .and_then(|m| m.ring_of(first, width))
        {
            return Some(a);
        }
        self.arith.as_ref()?.of.get(&*w.bits()).copied()
    }

    /// `w` as a ring operand: its constant, the ring wire it stands for,
    /// or a conversion of its bits (made once).
    fn operand(&mut self, w: &Word, signed: bool) -> Operand {
        if let Some(c) = w.as_const() {
            return Operand::Public(extend(c, w.width(), signed));
        }
        if let Some(a) = self.ring_of_word(w) {
            return Operand::Wire(a);
        }
        let mut bits = w.bits().to_vec();
        let signed = signed && bits.last() != Some(&Bit::Const(false));
        if !signed {
            while bits.last() == Some(&Bit::Const(false)) {
                bits.pop();
            }
        }
        let wires: Vec<Wire> = bits.into_iter().map(|b| self.b.wire_of(b)).collect();
        let a = self.op(|out| Op::FromBits {
            bits: wires,
            signed,
            out,
        });
        if let Some(st) = self.arith.as_mut() {
            st.of.insert(w.bits().to_vec(), a);
        }
        Operand::Wire(a)
    }

    fn wire(&mut self, o: Operand) -> Wire {
        match o {
            Operand::Wire(w) => w,
            Operand::Public(value) => self.op(|out| Op::Const { value, out }),
        }
    }

    /// `x op y` on the ring for `+`, `-`, `*` (no rounding); `None` when
    /// both are public.
    fn ring_op(&mut self, op: BinOp, x: &Word, y: &Word, signed: bool) -> Option<Wire> {
        let (ox, oy) = (self.operand(x, signed), self.operand(y, signed));
        if let (Operand::Public(_), Operand::Public(_)) = (ox, oy) {
            return None;
        }
        Some(match (op, ox, oy) {
            (BinOp::Mul, Operand::Wire(a), Operand::Public(k))
            | (BinOp::Mul, Operand::Public(k), Operand::Wire(a)) => {
                self.op(|out| Op::MulConst { a, k, out })
            }
            (BinOp::Mul, ..) => {
                let (a, b) = (self.wire(ox), self.wire(oy));
                self.op(|out| Op::Mul { a, b, out })
            }
            (BinOp::Sub, ..) => {
                let (a, b) = (self.wire(ox), self.wire(oy));
                self.op(|out| Op::Sub { a, b, out })
            }
            _ => {
                let (a, b) = (self.wire(ox), self.wire(oy));
                self.op(|out| Op::Add { a, b, out })
            }
        })
    }

    /// The fixed-point product `x · y`, rounded down once.
    fn fix_product(&mut self, x: &Word, y: &Word) -> Option<Wire> {
        let (ox, oy) = (self.operand(x, true), self.operand(y, true));
        let frac = FIX_FRAC;
        match (ox, oy) {
            (Operand::Public(_), Operand::Public(_)) => None,
            (Operand::Wire(a), Operand::Public(k)) | (Operand::Public(k), Operand::Wire(a))
                if k.trailing_zeros() >= frac =>
            {
                // A whole-number factor: exact, no rounding.
                let k = ((k as i128) >> frac) as u128;
                Some(self.op(|out| Op::MulConst { a, k, out }))
            }
            _ => {
                let p = self.ring_op(BinOp::Mul, x, y, true)?;
                Some(self.op(|out| Op::Trunc { a: p, frac, out }))
            }
        }
    }

    /// `a op b` in the arithmetic lowering, or `None` to leave it to the
    /// Boolean gates (the bits are always there).
    pub(super) fn arith_binary(&mut self, op: BinOp, a: &Val, b: &Val) -> Option<Val> {
        use BinOp::*;
        self.arith.as_ref()?;
        let (x, y, signed, fix, width) = match (a, b) {
            (Val::Int(t, x, sx), Val::Int(_, y, sy)) if *sx || *sy => {
                (x, y, t.signed, None, t.bits)
            }
            (Val::Fix(x, sx), Val::Fix(y, sy)) if *sx || *sy => (x, y, true, Some(()), FIX_BITS),
            _ => return None,
        };
        let wrap = |c: &mut Self, r: Wire| {
            let w = c.ring_word(r, width);
            match a {
                Val::Int(t, ..) => Val::Int(*t, w, true),
                _ => Val::Fix(w, true),
            }
        };
        match op {
            Mul if fix.is_some() => {
                let r = self.fix_product(x, y)?;
                Some(wrap(self, r))
            }
            Add | Sub | Mul => {
                let r = self.ring_op(op, x, y, signed)?;
                Some(wrap(self, r))
            }
            Eq | Ne => {
                // Equal exactly when the low bits of the difference are 0.
                let d = self.ring_op(Sub, x, y, signed)?;
                let bits = self.ring_word(d, width);
                let e = self.b.eq(&bits, &Word::constant(0, width as usize));
                Some(Val::Bool(
                    if op == Eq { e } else { self.b.not_bit(e) },
                    true,
                ))
            }
            Lt | Gt | Le | Ge if signed => {
                // The sign of the difference: one A2B of one bit.
                let (l, r) = if matches!(op, Lt | Ge) {
                    (x, y)
                } else {
                    (y, x)
                };
                let d = self.ring_op(Sub, l, r, true)?;
                let lt = Bit::Wire(self.op(|out| Op::Bit {
                    a: d,
                    index: 63,
                    out,
                }));
                Some(Val::Bool(
                    if matches!(op, Lt | Gt) {
                        lt
                    } else {
                        self.b.not_bit(lt)
                    },
                    true,
                ))
            }
            _ => None,
        }
    }

    /// `-v` on the ring, or `None`.
    pub(super) fn arith_neg(&mut self, v: &Val) -> Option<Val> {
        self.arith.as_ref()?;
        let zero = |w: &Word| Word::constant(0, w.width());
        match v {
            Val::Int(t, w, true) => {
                let r = self.ring_op(BinOp::Sub, &zero(w), w, t.signed)?;
                Some(Val::Int(*t, self.ring_word(r, t.bits), true))
            }
            Val::Fix(w, true) => {
                let r = self.ring_op(BinOp::Sub, &zero(w), w, true)?;
                Some(Val::Fix(self.ring_word(r, FIX_BITS), true))
            }
            _ => None,
        }
    }

    /// `s ? t : f` as `f + s·(t - f)` when either branch is a ring value:
    /// one converted bit and one product instead of converting both.
    pub(super) fn arith_mux(&mut self, s: Bit, t: &Val, f: &Val) -> Option<Val> {
        self.arith.as_ref()?;
        let (x, y, signed, width) = match (t, f) {
            (Val::Int(ty, x, _), Val::Int(_, y, _)) => (x, y, ty.signed, ty.bits),
            (Val::Fix(x, _), Val::Fix(y, _)) => (x, y, true, FIX_BITS),
            _ => return None,
        };
        // Worth it when neither branch needs converting bit by bit: each is
        // a ring value or a constant. Otherwise a Boolean mux (one A2B of
        // the ring branch) is cheaper than a B2A of every bit.
        let ready = |c: &mut Self, w: &Word| w.as_const().is_some() || c.ring_of_word(w).is_some();
        if !(ready(self, x) && ready(self, y)) || (x.as_const().is_some() && y.as_const().is_some())
        {
            return None;
        }
        let d = self.ring_op(BinOp::Sub, x, y, signed)?;
        let sw = self.b.wire_of(s);
        let sa = self.op(|out| Op::FromBits {
            bits: vec![sw],
            signed: false,
            out,
        });
        let p = self.op(|out| Op::Mul { a: sa, b: d, out });
        let fy = self.operand(y, signed);
        let fy = self.wire(fy);
        let r = self.op(|out| Op::Add { a: fy, b: p, out });
        let w = self.ring_word(r, width);
        Some(match t {
            Val::Int(ty, ..) => Val::Int(*ty, w, true),
            _ => Val::Fix(w, true),
        })
    }

    /// `Σ x_i · y_i` of fixed-point words, rounded down once, on the ring;
    /// `None` when everything is public.
    pub(super) fn arith_fix_dot(&mut self, pairs: &[(Word, Word)]) -> Option<Val> {
        self.arith.as_ref()?;
        let mut acc: Option<Wire> = None;
        for (x, y) in pairs {
            let p = match self.ring_op(BinOp::Mul, x, y, true) {
                Some(p) => p,
                None => {
                    // Both public: their exact product.
                    let (a, b) = (x.as_const()?, y.as_const()?);
                    let v = extend(a, 64, true).wrapping_mul(extend(b, 64, true));
                    self.op(|out| Op::Const { value: v, out })
                }
            };
            acc = Some(match acc {
                None => p,
                Some(s) => self.op(|out| Op::Add { a: s, b: p, out }),
            });
        }
        let sum = acc?;
        let r = self.op(|out| Op::Trunc {
            a: sum,
            frac: FIX_FRAC,
            out,
        });
        Some(Val::Fix(self.ring_word(r, FIX_BITS), true))
    }

    fn slots_of(&mut self, v: &Val, out: &mut Vec<Slot>) {
        let ring =
            |c: &mut Self, w: &Word, signed: bool, out: &mut Vec<Slot>| match c.ring_of_word(w) {
                Some(wire) => out.push(Slot::Arith {
                    wire,
                    width: w.width() as u32,
                    signed,
                }),
                None => {
                    for b in w.iter() {
                        let wire = c.b.wire_of(b);
                        out.push(Slot::Bit(wire));
                    }
                }
            };
        match v {
            Val::Lit(_) => {}
            Val::Bool(b, _) => {
                let w = self.b.wire_of(*b);
                out.push(Slot::Bit(w));
            }
            Val::Int(t, w, _) => ring(self, w, t.signed, out),
            Val::Fix(w, _) => ring(self, w, true, out),
            Val::Array(items) | Val::Tuple(items) => {
                for x in items {
                    self.slots_of(x, out);
                }
            }
        }
    }

    /// The finished mixed circuit: outputs as ports (ring values opened
    /// as such), unused conversions pruned.
    pub(super) fn finish_mixed(
        &mut self,
        outs: &[OutputSpec],
        values: &[Val],
        span: Span,
    ) -> CResult<MixedCircuit> {
        let mut ports = Vec::with_capacity(outs.len());
        for (o, v) in outs.iter().zip(values) {
            let mut slots = Vec::new();
            self.slots_of(v, &mut slots);
            ports.push(Port {
                name: o.name.clone(),
                party: 0,
                slots,
            });
        }
        let wires = u32::try_from(self.b.wires_used())
            .map_err(|_| Diagnostic::new(span, "the program needs more than 2^32 wires"))?;
        let ops = match std::mem::replace(self.b.sink_mut(), OpSink::Gates(Vec::new())) {
            OpSink::Ops(mut m) => {
                for p in &ports {
                    for s in &p.slots {
                        if let Slot::Bit(w) = s {
                            m.need(*w);
                        }
                    }
                }
                m.into_ops()
            }
            OpSink::Gates(g) => g.into_iter().map(Op::Bool).collect(),
        };
        let inputs = self
            .arith
            .as_mut()
            .map(|st| std::mem::take(&mut st.inputs))
            .unwrap_or_default();
        let (wires, inputs, ports, ops) = quorate_circuits::mixed::prune(inputs, ports, ops, wires);
        MixedCircuit::new(wires, inputs, ports, ops)
            .map_err(|e| Diagnostic::new(span, format!("internal: {e}")))
    }
}
