//! A recursive-descent parser: tokens to [`ast::File`](crate::ast::File).
//!
//! Operator precedence, loosest first (as in Rust): `||`; `&&`; comparisons
//! (not chained); `|`; `^`; `&`; `<<` `>>`; `+` `-`; `*` `/` `%`; `as`;
//! unary `-` `!`; indexing, calls and `.0` fields.

use crate::ast::*;
use crate::diag::{Diagnostic, Span};
use crate::lexer::{Kw, Tok, lex};

/// Nesting deeper than this is refused rather than risking the stack.
pub const MAX_DEPTH: usize = 200;

type PResult<T> = Result<T, Diagnostic>;

/// Parses a whole file.
pub fn parse(src: &str) -> PResult<File> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    p.file()
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<(Tok, Span)>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn text_of(&self, span: Span) -> String {
        self.src
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
            .to_owned()
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.pos + k).min(self.toks.len() - 1)].0
    }

    fn span(&self) -> Span {
        self.toks[self.pos.min(self.toks.len() - 1)].1
    }

    fn prev_span(&self) -> Span {
        self.toks[self.pos.saturating_sub(1).min(self.toks.len() - 1)].1
    }

    fn bump(&mut self) -> (Tok, Span) {
        let t = self.toks[self.pos.min(self.toks.len() - 1)].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::P(q) if *q == p)
    }

    fn is_kw(&self, k: Kw) -> bool {
        matches!(self.peek(), Tok::Kw(x) if *x == k)
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.is(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_kw(&mut self, k: Kw) -> bool {
        if self.is_kw(k) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn unexpected(&self, wanted: &str) -> Diagnostic {
        let d = Diagnostic::new(
            self.span(),
            format!("expected {wanted}, found {}", self.peek()),
        );
        if wanted == "`;`" && self.is(",") && matches!(self.peek_at(1), Tok::Int(_)) {
            return Diagnostic::new(self.span(), "expected `;`, found `,`")
                .help("numbers have no thousands separator `,`; write 1_000_000");
        }
        // The commonest slip: a statement without its semicolon.
        if wanted.contains("`;`") {
            let prev = self.prev_span();
            return Diagnostic::new(
                Span::new(prev.end as usize, prev.end as usize + 1),
                format!("expected `;`, found {}", self.peek()),
            )
            .help("end the statement with `;`");
        }
        d
    }

    fn expect(&mut self, p: &str) -> PResult<Span> {
        if self.is(p) {
            Ok(self.bump().1)
        } else {
            Err(self.unexpected(&format!("`{p}`")))
        }
    }

    fn ident(&mut self, what: &str) -> PResult<Name> {
        match self.peek().clone() {
            Tok::Ident(text) => {
                let span = self.bump().1;
                Ok(Name { text, span })
            }
            Tok::Kw(_) => Err(Diagnostic::new(
                self.span(),
                format!("expected {what}, found the keyword {}", self.peek()),
            )
            .help("keywords cannot be used as names")),
            _ => Err(self.unexpected(what)),
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Diagnostic::new(
                self.span(),
                format!("nesting deeper than {MAX_DEPTH} levels"),
            )
            .help("split the expression with `let`"));
        }
        Ok(())
    }

    fn file(&mut self) -> PResult<File> {
        let mut file = File::default();
        loop {
            match self.peek() {
                Tok::Eof => break,
                Tok::Kw(Kw::Parties) => {
                    let start = self.bump().1;
                    if file.parties_span.is_some() {
                        return Err(Diagnostic::new(start, "a second `parties` declaration")
                            .help("list every party in one `parties a, b, c;`"));
                    }
                    loop {
                        file.parties.push(self.ident("a party name")?);
                        if !self.eat(",") {
                            break;
                        }
                    }
                    let end = self.expect(";")?;
                    file.parties_span = Some(start.to(end));
                }
                Tok::Kw(Kw::Const) => {
                    self.bump();
                    let name = self.ident("a constant name")?;
                    let ty = if self.eat(":") {
                        Some(self.ty()?)
                    } else {
                        None
                    };
                    self.expect("=")?;
                    let value = self.expr()?;
                    self.expect(";")?;
                    file.items.push(Item::Const { name, ty, value });
                }
                Tok::Kw(Kw::Param) => {
                    self.bump();
                    let name = self.ident("a parameter name")?;
                    let ty = if self.eat(":") {
                        Some(self.ty()?)
                    } else {
                        None
                    };
                    let default = if self.eat("=") {
                        Some(self.expr()?)
                    } else {
                        None
                    };
                    self.expect(";")?;
                    file.items.push(Item::Param { name, ty, default });
                }
                Tok::Kw(Kw::Fn) => {
                    let f = self.function()?;
                    file.items.push(Item::Fn(f));
                }
                _ => {
                    return Err(self
                        .unexpected("`parties`, `const`, `param` or `fn`")
                        .help("a file holds `parties`, constants, parameters and functions"));
                }
            }
        }
        Ok(file)
    }

    fn function(&mut self) -> PResult<FnDecl> {
        let start = self.bump().1;
        let name = self.ident("a function name")?;
        self.expect("(")?;
        let mut params = Vec::new();
        while !self.is(")") {
            let pname = self.ident("a parameter name")?;
            self.expect(":")?;
            let ty = self.ty()?;
            let party = if self.eat("@") {
                Some(self.ident("a party name")?)
            } else {
                None
            };
            params.push(Param {
                name: pname,
                ty,
                party,
            });
            if !self.eat(",") {
                break;
            }
        }
        self.expect(")")?;
        let ret = if self.eat("->") {
            Some(self.ret()?)
        } else {
            None
        };
        if !self.is("{") {
            return Err(self.unexpected("`{` to start the function body"));
        }
        let body = self.block()?;
        let span = start.to(body.span);
        Ok(FnDecl {
            name,
            params,
            ret,
            body,
            span,
        })
    }

    fn reveal(&mut self) -> PResult<Reveal> {
        let at = self.prev_span();
        if self.eat("(") {
            let mut names = Vec::new();
            loop {
                names.push(self.ident("a party name")?);
                if !self.eat(",") {
                    break;
                }
            }
            let end = self.expect(")")?;
            return Ok(Reveal::Parties(names, at.to(end)));
        }
        let n = self.ident("a party name or `all`")?;
        let span = at.to(n.span);
        Ok(if n.text == "all" {
            Reveal::All(span)
        } else {
            Reveal::Parties(vec![n], span)
        })
    }

    fn ret_item(&mut self) -> PResult<RetItem> {
        let start = self.span();
        let name = if matches!(self.peek(), Tok::Ident(_)) && matches!(self.peek_at(1), Tok::P(":"))
        {
            let n = self.ident("an output name")?;
            self.bump();
            Some(n)
        } else {
            None
        };
        let ty = self.ty()?;
        let reveal = if self.eat("@") {
            Some(self.reveal()?)
        } else {
            None
        };
        Ok(RetItem {
            name,
            ty,
            reveal,
            span: start.to(self.prev_span()),
        })
    }

    fn ret(&mut self) -> PResult<Ret> {
        let start = self.span();
        let (items, tuple) = if self.eat("(") {
            let mut items = Vec::new();
            while !self.is(")") {
                items.push(self.ret_item()?);
                if !self.eat(",") {
                    break;
                }
            }
            self.expect(")")?;
            (items, true)
        } else {
            (vec![self.ret_item()?], false)
        };
        let reveal = if tuple && self.eat("@") {
            Some(self.reveal()?)
        } else {
            None
        };
        Ok(Ret {
            items,
            tuple,
            reveal,
            span: start.to(self.prev_span()),
        })
    }

    fn ty(&mut self) -> PResult<TypeExpr> {
        self.enter()?;
        let start = self.span();
        let t = if self.eat("[") {
            let elem = self.ty()?;
            if self.is(",") {
                return Err(
                    Diagnostic::new(self.span(), "expected `;` in an array type")
                        .help("array types are written `[T; N]`, e.g. `[u64; 4]`"),
                );
            }
            self.expect(";")?;
            let len = self.expr()?;
            let end = self.expect("]")?;
            TypeExpr::Array(Box::new(elem), Box::new(len), start.to(end))
        } else if self.eat("(") {
            let mut items = Vec::new();
            while !self.is(")") {
                items.push(self.ty()?);
                if !self.eat(",") {
                    break;
                }
            }
            let end = self.expect(")")?;
            TypeExpr::Tuple(items, start.to(end))
        } else {
            TypeExpr::Named(self.ident("a type")?)
        };
        self.depth -= 1;
        Ok(t)
    }

    fn block(&mut self) -> PResult<Block> {
        self.enter()?;
        let start = self.expect("{")?;
        let mut stmts = Vec::new();
        let mut tail = None;
        loop {
            if self.is("}") {
                break;
            }
            if matches!(self.peek(), Tok::Eof) {
                return Err(
                    Diagnostic::new(start, "this `{` is never closed").help("add the matching `}`")
                );
            }
            if self.is_kw(Kw::Let) {
                self.bump();
                let mutable = self.eat_kw(Kw::Mut);
                let name = self.ident("a variable name")?;
                let ty = if self.eat(":") {
                    Some(self.ty()?)
                } else {
                    None
                };
                self.expect("=")?;
                let value = self.expr()?;
                self.expect(";")?;
                stmts.push(Stmt::Let {
                    name,
                    mutable,
                    ty,
                    value,
                });
                continue;
            }
            if self.is_kw(Kw::For) {
                self.bump();
                let var = self.ident("a loop variable")?;
                if !self.eat_kw(Kw::In) {
                    return Err(self.unexpected("`in`"));
                }
                let s = self.expr_bp(1)?;
                if !self.eat("..") {
                    return Err(self
                        .unexpected("`..`")
                        .help("loops run over a range: `for i in 0..N { ... }`"));
                }
                let e = self.expr_bp(1)?;
                let body = self.block()?;
                stmts.push(Stmt::For {
                    var,
                    start: s,
                    end: e,
                    body,
                });
                continue;
            }
            let e = self.expr()?;
            if let Some(op) = self.assign_op() {
                let span = self.bump().1;
                let value = self.expr()?;
                self.expect(";")?;
                stmts.push(Stmt::Assign {
                    place: e,
                    op,
                    value,
                    span,
                });
                continue;
            }
            if self.eat(";") {
                stmts.push(Stmt::Expr(e));
                continue;
            }
            let block_like = matches!(e.kind, ExprKind::If(..) | ExprKind::Block(_));
            if self.is("}") {
                tail = Some(Box::new(e));
                break;
            }
            if block_like {
                stmts.push(Stmt::Expr(e));
                continue;
            }
            return Err(self.unexpected("`;`"));
        }
        let end = self.expect("}")?;
        self.depth -= 1;
        Ok(Block {
            stmts,
            tail,
            span: start.to(end),
        })
    }

    /// `=` gives `Some(None)`, `+=` gives `Some(Some(Add))`.
    fn assign_op(&self) -> Option<Option<BinOp>> {
        let Tok::P(p) = self.peek() else { return None };
        Some(match *p {
            "=" => None,
            "+=" => Some(BinOp::Add),
            "-=" => Some(BinOp::Sub),
            "*=" => Some(BinOp::Mul),
            "/=" => Some(BinOp::Div),
            "%=" => Some(BinOp::Rem),
            "&=" => Some(BinOp::BitAnd),
            "|=" => Some(BinOp::BitOr),
            "^=" => Some(BinOp::BitXor),
            "<<=" => Some(BinOp::Shl),
            ">>=" => Some(BinOp::Shr),
            _ => return None,
        })
    }

    fn expr(&mut self) -> PResult<Expr> {
        self.expr_bp(0)
    }

    fn binop(&self) -> Option<(BinOp, u8)> {
        let Tok::P(p) = self.peek() else { return None };
        Some(match *p {
            "||" => (BinOp::Or, 1),
            "&&" => (BinOp::And, 2),
            "==" => (BinOp::Eq, 3),
            "!=" => (BinOp::Ne, 3),
            "<" => (BinOp::Lt, 3),
            "<=" => (BinOp::Le, 3),
            ">" => (BinOp::Gt, 3),
            ">=" => (BinOp::Ge, 3),
            "|" => (BinOp::BitOr, 4),
            "^" => (BinOp::BitXor, 5),
            "&" => (BinOp::BitAnd, 6),
            "<<" => (BinOp::Shl, 7),
            ">>" => (BinOp::Shr, 7),
            "+" => (BinOp::Add, 8),
            "-" => (BinOp::Sub, 8),
            "*" => (BinOp::Mul, 9),
            "/" => (BinOp::Div, 9),
            "%" => (BinOp::Rem, 9),
            _ => return None,
        })
    }

    /// Binary operators binding tighter than `min`.
    fn expr_bp(&mut self, min: u8) -> PResult<Expr> {
        self.enter()?;
        let mut lhs = self.cast()?;
        while let Some((op, bp)) = self.binop() {
            if bp < min {
                break;
            }
            self.bump();
            let rhs = self.expr_bp(bp + 1)?;
            if let (3, Some((op2, 3))) = (bp, self.binop()) {
                return Err(Diagnostic::new(
                    self.span(),
                    format!(
                        "comparisons cannot be chained: `{}` after `{}`",
                        op2.symbol(),
                        op.symbol()
                    ),
                )
                .help("combine two comparisons with `&&`"));
            }
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                span,
            };
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn cast(&mut self) -> PResult<Expr> {
        let mut e = self.unary()?;
        while self.eat_kw(Kw::As) {
            let ty = self.ty()?;
            let span = e.span.to(ty.span());
            e = Expr {
                kind: ExprKind::Cast(Box::new(e), ty),
                span,
            };
        }
        Ok(e)
    }

    fn unary(&mut self) -> PResult<Expr> {
        self.enter()?;
        let start = self.span();
        let op = if self.eat("-") {
            Some(UnOp::Neg)
        } else if self.eat("!") {
            Some(UnOp::Not)
        } else {
            None
        };
        let e = match op {
            Some(op) => {
                let inner = self.unary()?;
                let span = start.to(inner.span);
                Expr {
                    kind: ExprKind::Unary(op, Box::new(inner)),
                    span,
                }
            }
            None => self.postfix()?,
        };
        self.depth -= 1;
        Ok(e)
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.eat("[") {
                let idx = self.expr()?;
                let end = self.expect("]")?;
                let span = e.span.to(end);
                e = Expr {
                    kind: ExprKind::Index(Box::new(e), Box::new(idx)),
                    span,
                };
            } else if self.is(".") && !matches!(self.peek_at(1), Tok::P(".")) {
                self.bump();
                let (tok, fspan) = self.bump();
                // `t.0.1` lexes as `t` `.` `0.1`: two fields.
                let fields: Vec<String> = match &tok {
                    Tok::Int(_) => vec![self.text_of(fspan)],
                    Tok::Decimal(d) => d.split('.').map(str::to_owned).collect(),
                    _ => vec![],
                };
                if fields.is_empty()
                    || fields
                        .iter()
                        .any(|f| f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit()))
                {
                    return Err(Diagnostic::new(
                        fspan,
                        format!("expected a field number, found {tok}"),
                    )
                    .help("tuple fields are numbered: `t.0`, `t.1`"));
                }
                for f in fields {
                    let k: u32 = f.parse().map_err(|_| {
                        Diagnostic::new(
                            fspan,
                            format!("no field {f}: tuples have far fewer fields"),
                        )
                    })?;
                    let span = e.span.to(fspan);
                    e = Expr {
                        kind: ExprKind::Field(Box::new(e), k, fspan),
                        span,
                    };
                }
            } else {
                break;
            }
        }
        Ok(e)
    }

    fn primary(&mut self) -> PResult<Expr> {
        let start = self.span();
        let kind = match self.peek().clone() {
            Tok::Int(v) => {
                self.bump();
                ExprKind::Int(v)
            }
            Tok::Decimal(s) => {
                self.bump();
                ExprKind::Decimal(s)
            }
            Tok::Kw(Kw::True) => {
                self.bump();
                ExprKind::Bool(true)
            }
            Tok::Kw(Kw::False) => {
                self.bump();
                ExprKind::Bool(false)
            }
            Tok::Ident(name) => {
                let n = self.ident("a name")?;
                if self.eat("(") {
                    let mut args = Vec::new();
                    while !self.is(")") {
                        args.push(self.expr()?);
                        if !self.eat(",") {
                            break;
                        }
                    }
                    let end = self.expect(")")?;
                    return Ok(Expr {
                        kind: ExprKind::Call(n, args),
                        span: start.to(end),
                    });
                }
                ExprKind::Name(name)
            }
            Tok::Kw(Kw::If) => return self.if_expr(),
            Tok::P("{") => {
                let b = self.block()?;
                return Ok(Expr {
                    span: b.span,
                    kind: ExprKind::Block(b),
                });
            }
            Tok::P("(") => {
                self.bump();
                let mut items = Vec::new();
                let mut trailing = false;
                while !self.is(")") {
                    items.push(self.expr()?);
                    trailing = self.eat(",");
                    if !trailing {
                        break;
                    }
                }
                let end = self.expect(")")?;
                if items.len() == 1 && !trailing {
                    let mut e = items
                        .pop()
                        .ok_or_else(|| self.unexpected("an expression"))?;
                    e.span = start.to(end);
                    return Ok(e);
                }
                return Ok(Expr {
                    kind: ExprKind::Tuple(items),
                    span: start.to(end),
                });
            }
            Tok::P("[") => {
                self.bump();
                let mut items = Vec::new();
                if !self.is("]") {
                    let first = self.expr()?;
                    if self.eat(";") {
                        let n = self.expr()?;
                        let end = self.expect("]")?;
                        return Ok(Expr {
                            kind: ExprKind::Repeat(Box::new(first), Box::new(n)),
                            span: start.to(end),
                        });
                    }
                    items.push(first);
                    while self.eat(",") {
                        if self.is("]") {
                            break;
                        }
                        items.push(self.expr()?);
                    }
                }
                let end = self.expect("]")?;
                return Ok(Expr {
                    kind: ExprKind::Array(items),
                    span: start.to(end),
                });
            }
            _ => return Err(self.unexpected("an expression")),
        };
        Ok(Expr {
            kind,
            span: start.to(self.prev_span()),
        })
    }

    fn if_expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let start = self.bump().1;
        let cond = self.expr()?;
        if !self.is("{") {
            return Err(self.unexpected("`{` after the condition"));
        }
        let then = self.block()?;
        let els = if self.eat_kw(Kw::Else) {
            if self.is_kw(Kw::If) {
                Some(Box::new(self.if_expr()?))
            } else if self.is("{") {
                let b = self.block()?;
                Some(Box::new(Expr {
                    span: b.span,
                    kind: ExprKind::Block(b),
                }))
            } else {
                return Err(self.unexpected("`{` or `if` after `else`"));
            }
        } else {
            None
        };
        let end = els.as_ref().map_or(then.span, |e| e.span);
        self.depth -= 1;
        Ok(Expr {
            kind: ExprKind::If(Box::new(cond), then, els),
            span: start.to(end),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_follows_rust() {
        let f = parse("fn f() -> u8 { 1 + 2 * 3 << 1 == 14 && true }").unwrap();
        let Item::Fn(f) = &f.items[0] else { panic!() };
        let tail = f.body.tail.as_ref().unwrap();
        let ExprKind::Binary(BinOp::And, l, _) = &tail.kind else {
            panic!("{tail:?}")
        };
        let ExprKind::Binary(BinOp::Eq, l, _) = &l.kind else {
            panic!()
        };
        let ExprKind::Binary(BinOp::Shl, l, _) = &l.kind else {
            panic!()
        };
        assert!(matches!(l.kind, ExprKind::Binary(BinOp::Add, _, _)));
    }

    #[test]
    fn chained_comparisons_and_missing_semicolons_are_named() {
        let e = parse("fn f() -> bool { 1 < 2 < 3 }").unwrap_err();
        assert!(e.message.contains("chained"), "{e:?}");
        let e = parse("fn f() { let x = 1 let y = 2; }").unwrap_err();
        assert!(e.message.contains("expected `;`"), "{e:?}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let src = format!(
            "fn f() -> u8 {{ {}1{} }}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        assert!(parse(&src).unwrap_err().message.contains("nesting"));
        let src = format!("fn f() -> u8 {{ {}1 }}", "-".repeat(5000));
        assert!(parse(&src).unwrap_err().message.contains("nesting"));
    }
}
