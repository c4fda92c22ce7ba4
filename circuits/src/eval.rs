//! The plaintext evaluator: the reference semantics of every circuit. Each
//! protocol is tested by running a circuit under MPC and here, and comparing.
//!
//! Evaluation is generic over a [`Lane`]: `bool` evaluates one instance,
//! `u64` evaluates 64 instances at once, bit-sliced (lane `j` of every wire
//! belongs to instance `j`), which [`evaluate_many`] uses to run property
//! tests and known-answer batches quickly.

use std::ops::{BitAnd, BitXor, Not};

use thiserror::Error;

use crate::bits::Bits;
use crate::circuit::{Circuit, Gate, GateSink, Interface};

/// Why inputs do not fit a circuit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The number of input values differs from the circuit's inputs.
    #[error("the circuit takes {expected} inputs, {got} given")]
    InputCount {
        /// The circuit's input count.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A value's width differs from its input's.
    #[error("input {index} (`{name}`) has {expected} bits, the value given has {got}")]
    InputWidth {
        /// Position among the inputs.
        index: usize,
        /// The input's name.
        name: String,
        /// The input's width.
        expected: usize,
        /// The value's width.
        got: usize,
    },
}

/// What a wire holds during evaluation: one bit, or many bit-sliced.
pub trait Lane: Copy + BitXor<Output = Self> + BitAnd<Output = Self> + Not<Output = Self> {
    /// All lanes 0.
    const ZERO: Self;
    /// All lanes 1.
    const ONE: Self;
}

impl Lane for bool {
    const ZERO: Self = false;
    const ONE: Self = true;
}

impl Lane for u64 {
    const ZERO: Self = 0;
    const ONE: Self = u64::MAX;
}

#[inline]
fn step<L: Lane>(wires: &mut [L], gate: Gate) {
    match gate {
        Gate::Xor { a, b, out } => wires[out.idx()] = wires[a.idx()] ^ wires[b.idx()],
        Gate::And { a, b, out } => wires[out.idx()] = wires[a.idx()] & wires[b.idx()],
        Gate::Not { a, out } => wires[out.idx()] = !wires[a.idx()],
        Gate::Const { value, out } => wires[out.idx()] = if value { L::ONE } else { L::ZERO },
    }
}

/// Evaluates on input bits given flat (all of input 0, least significant
/// bit first, then input 1, ...); returns each output's bits.
pub fn evaluate_lanes<L: Lane>(
    circuit: &Circuit,
    input_bits: &[L],
) -> Result<Vec<Vec<L>>, EvalError> {
    let expected = circuit.stats().input_bits as usize;
    if input_bits.len() != expected {
        return Err(EvalError::InputWidth {
            index: 0,
            name: "(all inputs)".into(),
            expected,
            got: input_bits.len(),
        });
    }
    let mut wires = vec![L::ZERO; circuit.num_wires()];
    wires[..expected].copy_from_slice(input_bits);
    for &gate in circuit.gates() {
        step(&mut wires, gate);
    }
    Ok(circuit
        .interface()
        .outputs
        .iter()
        .map(|o| o.wires.iter().map(|w| wires[w.idx()]).collect())
        .collect())
}

fn check_inputs(interface: &Interface, values: &[Bits]) -> Result<(), EvalError> {
    if values.len() != interface.inputs.len() {
        return Err(EvalError::InputCount {
            expected: interface.inputs.len(),
            got: values.len(),
        });
    }
    for (index, (input, value)) in interface.inputs.iter().zip(values).enumerate() {
        if value.width() != input.width as usize {
            return Err(EvalError::InputWidth {
                index,
                name: input.name.clone(),
                expected: input.width as usize,
                got: value.width(),
            });
        }
    }
    Ok(())
}

/// Evaluates one instance: one value per input, in order; one per output.
pub fn evaluate(circuit: &Circuit, inputs: &[Bits]) -> Result<Vec<Bits>, EvalError> {
    check_inputs(circuit.interface(), inputs)?;
    let flat: Vec<bool> = inputs.iter().flat_map(Bits::iter).collect();
    let outs = evaluate_lanes(circuit, &flat)?;
    Ok(outs.iter().map(|bits| Bits::from_bools(bits)).collect())
}

/// Evaluates many instances, 64 at a time bit-sliced. `instances[k]` holds
/// one value per input; the result holds one value per output for each.
pub fn evaluate_many(
    circuit: &Circuit,
    instances: &[Vec<Bits>],
) -> Result<Vec<Vec<Bits>>, EvalError> {
    let iface = circuit.interface();
    for inst in instances {
        check_inputs(iface, inst)?;
    }
    let mut results = Vec::with_capacity(instances.len());
    for chunk in instances.chunks(64) {
        let mut flat = Vec::with_capacity(circuit.stats().input_bits as usize);
        for input in 0..iface.inputs.len() {
            for bit in 0..iface.inputs[input].width as usize {
                let mut lane = 0u64;
                for (j, inst) in chunk.iter().enumerate() {
                    lane |= u64::from(inst[input].get(bit)) << j;
                }
                flat.push(lane);
            }
        }
        let outs = evaluate_lanes(circuit, &flat)?;
        for j in 0..chunk.len() {
            results.push(
                outs.iter()
                    .map(|bits| {
                        Bits::from_bools(&bits.iter().map(|&l| l >> j & 1 == 1).collect::<Vec<_>>())
                    })
                    .collect(),
            );
        }
    }
    Ok(results)
}

/// Evaluates gates as they stream in, without storing them: the plaintext
/// twin of a garbler fed by a generator. Gates must come in topological
/// order (the builder and the Bristol reader guarantee it); a wire never
/// driven reads as 0.
#[derive(Debug, Clone)]
pub struct StreamEvaluator<L: Lane = bool> {
    wires: Vec<L>,
}

impl<L: Lane> StreamEvaluator<L> {
    /// Starts with the input wires set to `input_bits` (flat, as in
    /// [`evaluate_lanes`]).
    pub fn new(input_bits: &[L]) -> Self {
        Self {
            wires: input_bits.to_vec(),
        }
    }

    /// The value of each output once every gate has been pushed.
    pub fn outputs(&self, interface: &Interface) -> Vec<Vec<L>> {
        interface
            .outputs
            .iter()
            .map(|o| {
                o.wires
                    .iter()
                    .map(|w| self.wires.get(w.idx()).copied().unwrap_or(L::ZERO))
                    .collect()
            })
            .collect()
    }
}

impl StreamEvaluator<bool> {
    /// Starts from one value per input of `interface`.
    pub fn from_values(interface: &Interface, values: &[Bits]) -> Result<Self, EvalError> {
        check_inputs(interface, values)?;
        let flat: Vec<bool> = values.iter().flat_map(Bits::iter).collect();
        Ok(Self::new(&flat))
    }

    /// Output values once every gate has been pushed.
    pub fn output_values(&self, interface: &Interface) -> Vec<Bits> {
        self.outputs(interface)
            .iter()
            .map(|b| Bits::from_bools(b))
            .collect()
    }
}

impl<L: Lane> GateSink for StreamEvaluator<L> {
    fn push(&mut self, gate: Gate) {
        let out = gate.out().idx();
        if out >= self.wires.len() {
            self.wires.resize(out + 1, L::ZERO);
        }
        for w in gate.inputs() {
            if w.idx() >= self.wires.len() {
                self.wires.resize(w.idx() + 1, L::ZERO);
            }
        }
        step(&mut self.wires, gate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::CircuitBuilder;
    use crate::gadgets::Signedness;

    fn adder(width: u32) -> Circuit {
        let mut b = CircuitBuilder::new();
        let (p, q) = (b.party("p"), b.party("q"));
        let x = b.input(p, "x", width).unwrap();
        let y = b.input(q, "y", width).unwrap();
        let s = b.add(&x, &y);
        let lt = b.lt(&x, &y, Signedness::Unsigned);
        b.output("sum", &s);
        b.output("lt", &crate::Word::from_bits(vec![lt]));
        b.finish().unwrap()
    }

    #[test]
    fn one_and_many_agree() {
        let c = adder(8);
        let mut instances = Vec::new();
        for k in 0..150u64 {
            let x = (k * 37 + 11) % 256;
            let y = (k * 101 + 3) % 256;
            instances.push(vec![Bits::from_u64(x, 8), Bits::from_u64(y, 8)]);
        }
        let many = evaluate_many(&c, &instances).unwrap();
        for (inst, out) in instances.iter().zip(&many) {
            let one = evaluate(&c, inst).unwrap();
            assert_eq!(&one, out);
            let (x, y) = (inst[0].to_u64().unwrap(), inst[1].to_u64().unwrap());
            assert_eq!(out[0].to_u64(), Some((x + y) % 256));
            assert_eq!(out[1].to_u64(), Some(u64::from(x < y)));
        }
    }

    #[test]
    fn wrong_inputs_are_errors() {
        let c = adder(8);
        assert_eq!(
            evaluate(&c, &[Bits::from_u64(1, 8)]),
            Err(EvalError::InputCount {
                expected: 2,
                got: 1
            })
        );
        assert!(matches!(
            evaluate(&c, &[Bits::from_u64(1, 8), Bits::from_u64(1, 7)]),
            Err(EvalError::InputWidth {
                index: 1,
                expected: 8,
                got: 7,
                ..
            })
        ));
    }

    #[test]
    fn streaming_matches_stored() {
        let c = adder(16);
        let inputs = [Bits::from_u64(40_000, 16), Bits::from_u64(30_000, 16)];
        let mut ev = StreamEvaluator::from_values(c.interface(), &inputs).unwrap();
        c.stream_into(&mut ev);
        assert_eq!(
            ev.output_values(c.interface()),
            evaluate(&c, &inputs).unwrap()
        );
    }
}
