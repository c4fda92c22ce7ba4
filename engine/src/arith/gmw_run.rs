//! Any Boolean circuit of the IR among N parties with GMW ([`super::gmw`]):
//! the N-party counterpart of [`crate::yao`].
//!
//! The gates are grouped by AND depth: round `d` evaluates the linear gates
//! (XOR, NOT, constants) whose output has depth `d`, in circuit order, then
//! every AND gate whose inputs have depth at most `d` at once, packed 64 to
//! a word, with one opening. A circuit of AND depth `D` takes `D` rounds
//! after the inputs, plus one per output opening.

use quorate_circuits::{Bits, Circuit, Gate, GateKind};

use super::gmw::{BitShares, BitTriples};
use super::{ArithError, Party};

/// What a GMW run did.
#[derive(Debug)]
pub struct CircuitOutcome {
    /// Each output's value, `Some` where this party is among its recipients.
    pub outputs: Vec<Option<Bits>>,
    /// AND gates evaluated.
    pub ands: u64,
    /// Communication rounds for the AND gates.
    pub rounds: u32,
}

/// The evaluation plan: per round, the linear gates and the AND gates.
pub(super) struct Plan {
    pub(super) linear: Vec<Vec<usize>>,
    pub(super) ands: Vec<Vec<usize>>,
}

/// Groups the gates of `circuit` by AND depth, keeping circuit order.
pub(super) fn plan(circuit: &Circuit) -> Plan {
    let stats = circuit.stats();
    let mut depth = vec![0u32; stats.wires as usize];
    let rounds = stats.and_depth as usize + 1;
    let mut linear = vec![Vec::new(); rounds];
    let mut ands = vec![Vec::new(); rounds];
    for (k, g) in circuit.gates().iter().enumerate() {
        let d = g.inputs().map(|w| depth[w.idx()]).max().unwrap_or(0);
        if g.kind() == GateKind::And {
            ands[d as usize].push(k);
            depth[g.out().idx()] = d + 1;
        } else {
            linear[d as usize].push(k);
            depth[g.out().idx()] = d;
        }
    }
    Plan { linear, ands }
}

/// Bits packed 64 to a word, the first in bit 0 of word 0.
pub(super) fn pack(bits: impl Iterator<Item = bool>) -> Vec<u64> {
    let mut words = Vec::with_capacity(bits.size_hint().0.div_ceil(64));
    for (i, b) in bits.enumerate() {
        if i % 64 == 0 {
            words.push(0);
        }
        if let Some(w) = words.last_mut() {
            *w |= u64::from(b) << (i % 64);
        }
    }
    words
}

impl Party {
    /// Evaluates `circuit` with GMW among all parties; the circuit's party
    /// `k` is this run's party `k`. `inputs[i]` is `Some` for each input
    /// this party owns and `None` for the others'; `to[o]` names the
    /// parties that learn output `o`.
    pub fn run_circuit(
        &mut self,
        circuit: &Circuit,
        inputs: &[Option<Bits>],
        to: &[Vec<usize>],
    ) -> Result<CircuitOutcome, ArithError> {
        let iface = circuit.interface();
        if iface.parties.len() != self.n {
            return Err(ArithError::Setup(format!(
                "the circuit has {} parties, this run {}",
                iface.parties.len(),
                self.n
            )));
        }
        if inputs.len() != iface.inputs.len() || to.len() != iface.outputs.len() {
            return Err(ArithError::Setup(format!(
                "the circuit has {} inputs and {} outputs; {} input values and {} output \
                 recipient lists were given",
                iface.inputs.len(),
                iface.outputs.len(),
                inputs.len(),
                to.len()
            )));
        }
        for (i, (input, value)) in iface.inputs.iter().zip(inputs).enumerate() {
            let mine = usize::from(input.party.0) == self.me;
            match value {
                Some(v) if mine && v.width() == input.width as usize => {}
                None if !mine => {}
                _ => {
                    return Err(ArithError::Setup(format!(
                        "input {i} (`{}`): {}",
                        input.name,
                        if mine {
                            format!("this party owns it and must give {} bits", input.width)
                        } else {
                            "another party owns it".to_owned()
                        }
                    )));
                }
            }
        }
        if let Some(bad) = to.iter().flatten().find(|&&p| p >= self.n) {
            return Err(ArithError::Setup(format!("no party {bad} to reveal to")));
        }

        let stats = circuit.stats();
        let mut wires = vec![false; stats.wires as usize];
        // Inputs: each party shares all of its input bits at once.
        let offsets = iface.input_offsets();
        for owner in 0..self.n {
            let owned: Vec<usize> = iface
                .inputs
                .iter()
                .enumerate()
                .filter(|(_, i)| usize::from(i.party.0) == owner)
                .map(|(k, _)| k)
                .collect();
            let total: usize = owned.iter().map(|&k| iface.inputs[k].width as usize).sum();
            if total == 0 {
                continue;
            }
            let words = (owner == self.me).then(|| {
                pack(
                    owned
                        .iter()
                        .flat_map(|&k| inputs[k].iter().flat_map(Bits::iter))
                        .collect::<Vec<bool>>()
                        .into_iter(),
                )
            });
            let shares = self.input_bits(owner, words.as_deref(), total.div_ceil(64))?;
            let mut at = 0usize;
            for &k in &owned {
                let start = offsets[k] as usize;
                for b in 0..iface.inputs[k].width as usize {
                    wires[start + b] = shares.expose()[at / 64] >> (at % 64) & 1 == 1;
                    at += 1;
                }
            }
        }

        let plan = plan(circuit);
        let words: usize = plan.ands.iter().map(|a| a.len().div_ceil(64)).sum();
        let mut triples = self.bit_triples(words)?;
        let gates = circuit.gates();
        let first = self.me == 0;
        let mut rounds = 0;
        for (linear, ands) in plan.linear.iter().zip(&plan.ands) {
            for &k in linear {
                match gates[k] {
                    Gate::Xor { a, b, out } => wires[out.idx()] = wires[a.idx()] ^ wires[b.idx()],
                    Gate::Not { a, out } => wires[out.idx()] = wires[a.idx()] ^ first,
                    Gate::Const { value, out } => wires[out.idx()] = value && first,
                    Gate::And { .. } => {}
                }
            }
            if ands.is_empty() {
                continue;
            }
            let operands = |pick: fn(&Gate) -> usize| {
                BitShares::new(pack(ands.iter().map(|&k| wires[pick(&gates[k])])))
            };
            let x = operands(|g| match *g {
                Gate::And { a, .. } => a.idx(),
                _ => 0,
            });
            let y = operands(|g| match *g {
                Gate::And { b, .. } => b.idx(),
                _ => 0,
            });
            let z = self.and(&x, &y, &mut triples)?;
            for (i, &k) in ands.iter().enumerate() {
                wires[gates[k].out().idx()] = z.expose()[i / 64] >> (i % 64) & 1 == 1;
            }
            rounds += 1;
        }
        debug_assert!(BitTriples::is_empty(&triples));

        let mut outputs = Vec::with_capacity(iface.outputs.len());
        for (o, recipients) in iface.outputs.iter().zip(to) {
            let shares = BitShares::new(pack(o.wires.iter().map(|w| wires[w.idx()])));
            let opened = self.open_bits_to(&shares, recipients)?;
            outputs.push(opened.map(|words| {
                Bits::from_bools(
                    &(0..o.wires.len())
                        .map(|i| words[i / 64] >> (i % 64) & 1 == 1)
                        .collect::<Vec<bool>>(),
                )
            }));
        }
        wires.iter_mut().for_each(|w| *w = false);
        Ok(CircuitOutcome {
            outputs,
            ands: stats.and,
            rounds,
        })
    }
}

#[cfg(test)]
mod tests {
    use quorate_circuits::{CircuitBuilder, Signedness, evaluate};

    use super::super::tests::run;
    use super::*;
    use crate::prg::Prg;

    /// GMW's outputs equal the plaintext evaluator's on random inputs,
    /// each output revealed to one party only.
    fn check(circuit: &Circuit, parties: usize) {
        let iface = circuit.interface();
        let mut prg = Prg::from_entropy().unwrap();
        let values: Vec<Bits> = iface
            .inputs
            .iter()
            .map(|i| {
                Bits::from_bools(
                    &(0..i.width)
                        .map(|_| prg.block().0 & 1 == 1)
                        .collect::<Vec<bool>>(),
                )
            })
            .collect();
        let want = evaluate(circuit, &values).unwrap();
        let to: Vec<Vec<usize>> = (0..iface.outputs.len())
            .map(|o| vec![o % parties])
            .collect();
        let (values, to) = (&values, &to);
        let out = run(parties, |mut p| {
            let me = p.id();
            let mine: Vec<Option<Bits>> = iface
                .inputs
                .iter()
                .zip(values)
                .map(|(i, v)| (usize::from(i.party.0) == me).then(|| v.clone()))
                .collect();
            p.run_circuit(circuit, &mine, to)
        });
        for (me, o) in out.into_iter().enumerate() {
            let o = o.unwrap();
            for (k, got) in o.outputs.iter().enumerate() {
                if to[k].contains(&me) {
                    assert_eq!(got.as_ref(), Some(&want[k]), "output {k} at party {me}");
                } else {
                    assert!(got.is_none());
                }
            }
        }
    }

    #[test]
    fn a_three_party_circuit_matches_plaintext() {
        // max(a, b, c) and a + b + c over u16, each from its own party.
        let mut b = CircuitBuilder::new();
        let ps: Vec<_> = ["a", "b", "c"].iter().map(|n| b.party(n)).collect();
        let xs: Vec<_> = ["x", "y", "z"]
            .iter()
            .zip(&ps)
            .map(|(n, &p)| b.input(p, n, 16).unwrap())
            .collect();
        let sum = b.add(&xs[0], &xs[1]);
        let sum = b.add(&sum, &xs[2]);
        let m = b.max(&xs[0], &xs[1], Signedness::Unsigned);
        let m = b.max(&m, &xs[2], Signedness::Unsigned);
        b.output("sum", &sum);
        b.output("max", &m);
        let c = b.finish().unwrap();
        for _ in 0..3 {
            check(&c, 3);
        }
    }

    #[test]
    fn aes_128_matches_plaintext() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/circuits/bristol/aes_128.txt");
        let c = quorate_circuits::bristol::read_file(&path, &Default::default())
            .unwrap()
            .circuit;
        check(&c, 2);
    }

    #[test]
    fn wrong_inputs_are_refused() {
        let mut b = CircuitBuilder::new();
        let pa = b.party("a");
        let pb = b.party("b");
        let x = b.input(pa, "x", 8).unwrap();
        let y = b.input(pb, "y", 8).unwrap();
        let s = b.add(&x, &y);
        b.output("s", &s);
        let c = b.finish().unwrap();
        let c = &c;
        let out = run(2, |mut p| {
            // Both claim input x.
            p.run_circuit(c, &[Some(Bits::zeros(8)), None], &[vec![0]])
        });
        let e = out[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("another party owns it"), "{e}");
    }
}
