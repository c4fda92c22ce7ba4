#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod ast;
pub mod compile;
pub mod diag;
pub mod lexer;
pub mod parser;
pub mod types;

pub use compile::{InputSpec, Limits, OutputSpec, Program, Trial, compile, compile_arith};
pub use diag::{Diagnostic, Span};
pub use types::{IntTy, Type, Value, ValueError, decode, parse_elements, parse_value};
