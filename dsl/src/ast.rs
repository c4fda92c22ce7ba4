//! The syntax tree the parser builds. Every node carries its [`Span`].

use crate::diag::Span;

/// A name and where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    /// The name.
    pub text: String,
    /// Where.
    pub span: Span,
}

/// A whole source file.
#[derive(Clone, Debug, Default)]
pub struct File {
    /// `parties a, b;`, in order: the first is party 0.
    pub parties: Vec<Name>,
    /// Where the `parties` declaration is.
    pub parties_span: Option<Span>,
    /// Constants, parameters and functions, in source order.
    pub items: Vec<Item>,
}

/// A top-level declaration.
#[derive(Clone, Debug)]
pub enum Item {
    /// `const NAME[: T] = e;`
    Const {
        /// The name.
        name: Name,
        /// The declared type.
        ty: Option<TypeExpr>,
        /// The value: public.
        value: Expr,
    },
    /// `param NAME[: T] [= default];`: set from the command line.
    Param {
        /// The name.
        name: Name,
        /// The declared type.
        ty: Option<TypeExpr>,
        /// The value when none is given.
        default: Option<Expr>,
    },
    /// A function.
    Fn(FnDecl),
}

/// `fn name(params) [-> outputs] { body }`.
#[derive(Clone, Debug)]
pub struct FnDecl {
    /// The name.
    pub name: Name,
    /// The parameters.
    pub params: Vec<Param>,
    /// The return type (and for `main`, who learns each output).
    pub ret: Option<Ret>,
    /// The body.
    pub body: Block,
    /// The whole declaration.
    pub span: Span,
}

/// A parameter: `name: T [@party]`.
#[derive(Clone, Debug)]
pub struct Param {
    /// The name.
    pub name: Name,
    /// The type.
    pub ty: TypeExpr,
    /// The party providing it (inputs of `main`).
    pub party: Option<Name>,
}

/// The parties an output is revealed to.
#[derive(Clone, Debug)]
pub enum Reveal {
    /// `@all`.
    All(Span),
    /// `@alice` or `@(alice, bob)`.
    Parties(Vec<Name>, Span),
}

impl Reveal {
    /// Where it was written.
    pub fn span(&self) -> Span {
        match self {
            Reveal::All(s) | Reveal::Parties(_, s) => *s,
        }
    }
}

/// One element of a return type: `[name:] T [@who]`.
#[derive(Clone, Debug)]
pub struct RetItem {
    /// A name for the output.
    pub name: Option<Name>,
    /// The type.
    pub ty: TypeExpr,
    /// Who learns it.
    pub reveal: Option<Reveal>,
    /// The whole element.
    pub span: Span,
}

/// A return type: one item, or a parenthesised list (a tuple).
#[derive(Clone, Debug)]
pub struct Ret {
    /// The items.
    pub items: Vec<RetItem>,
    /// Whether the items were written as a tuple `( ... )`.
    pub tuple: bool,
    /// `@who` after the closing parenthesis, for every item without its own.
    pub reveal: Option<Reveal>,
    /// The whole return type.
    pub span: Span,
}

/// A type as written.
#[derive(Clone, Debug)]
pub enum TypeExpr {
    /// `bool`, `u8`..`u64`, `i8`..`i64`, `fix`.
    Named(Name),
    /// `[T; N]`.
    Array(Box<TypeExpr>, Box<Expr>, Span),
    /// `(T, U, ...)`.
    Tuple(Vec<TypeExpr>, Span),
}

impl TypeExpr {
    /// Where it was written.
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Named(n) => n.span,
            TypeExpr::Array(_, _, s) | TypeExpr::Tuple(_, s) => *s,
        }
    }
}

/// `{ stmts; tail }`.
#[derive(Clone, Debug)]
pub struct Block {
    /// Statements.
    pub stmts: Vec<Stmt>,
    /// The value of the block, if it ends with an expression.
    pub tail: Option<Box<Expr>>,
    /// From `{` to `}`.
    pub span: Span,
}

/// A statement.
#[derive(Clone, Debug)]
pub enum Stmt {
    /// `let [mut] x[: T] = e;`
    Let {
        /// The name.
        name: Name,
        /// Whether it may be assigned again.
        mutable: bool,
        /// The declared type.
        ty: Option<TypeExpr>,
        /// The value.
        value: Expr,
    },
    /// `place = e;` or `place op= e;`
    Assign {
        /// A variable, an element or a field.
        place: Expr,
        /// For `+=` and friends.
        op: Option<BinOp>,
        /// The value.
        value: Expr,
        /// The `=` (or `op=`).
        span: Span,
    },
    /// `for i in a..b { ... }`
    For {
        /// The loop variable.
        var: Name,
        /// First value.
        start: Expr,
        /// One past the last value.
        end: Expr,
        /// The body.
        body: Block,
    },
    /// An expression followed by `;` (or an `if` / block statement).
    Expr(Expr),
}

/// A unary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `!x`: logical or bitwise not.
    Not,
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

/// An expression.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// An integer literal.
    Int(u128),
    /// A decimal literal (`fix`).
    Decimal(String),
    /// `true` or `false`.
    Bool(bool),
    /// A variable, constant or parameter.
    Name(String),
    /// `-e`, `!e`.
    Unary(UnOp, Box<Expr>),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `f(args)`: a helper function or a builtin.
    Call(Name, Vec<Expr>),
    /// `a[i]`.
    Index(Box<Expr>, Box<Expr>),
    /// `t.0`.
    Field(Box<Expr>, u32, Span),
    /// `e as T`.
    Cast(Box<Expr>, TypeExpr),
    /// `if c { .. } else { .. }`; the else is a block or another `if`.
    If(Box<Expr>, Block, Option<Box<Expr>>),
    /// `{ ... }`.
    Block(Block),
    /// `[a, b, c]`.
    Array(Vec<Expr>),
    /// `[e; n]`.
    Repeat(Box<Expr>, Box<Expr>),
    /// `(a, b)`.
    Tuple(Vec<Expr>),
}
