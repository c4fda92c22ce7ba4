//! Spending policy: the rules a signer node checks itself, before it takes
//! part in a signature, whatever the coordinator says.
//!
//! A policy file (TOML) has four parts, all optional but `tier`:
//!
//! ```toml
//! [groups]                      # named sets of signer nodes
//! fast = ["treasury", "compliance", "security"]
//! senior = ["treasury", "compliance", "security", "recovery", "ops", "legal", "board"]
//!
//! [[tier]]                      # amount tiers: the first that matches applies
//! name = "small"
//! asset = "ETH"                 # omitted: any asset
//! below = "10"                  # exclusive upper bound, decimal; omitted: none
//! require = [{ group = "fast", at_least = 2 }]
//!
//! [[tier]]
//! name = "large"
//! asset = "ETH"
//! from = "10"                   # inclusive lower bound; omitted: 0
//! require = [{ group = "senior", at_least = 4 }]
//!
//! [[allow]]                     # destination allow-lists, per asset
//! name = "eth-counterparties"
//! asset = "ETH"
//! destinations = ["0x52908400098527886e0f7030069857d2e4169ee7"]
//!
//! [[limit]]                     # rolling 24-hour limits, per key
//! name = "eth-daily"
//! key = "*"                     # a key id, or * for each key
//! asset = "ETH"
//! daily = "250"
//! ```
//!
//! A request is allowed when (1) a tier covers its asset and amount, (2)
//! its signers include at least `at_least` members of each group the tier
//! requires, (3) its destination is on every allow-list of its asset, and
//! (4) with it, no limit's key and asset would have signed more than
//! `daily` in the last 24 hours. Otherwise it is refused, and the
//! [`Refusal`] names the rule (tier, allow-list or limit) that refused.
//! Amounts are exact decimals with up to 18 fractional digits.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// An exact non-negative amount, in units of 10^-18.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Amount(u128);

/// Fractional digits of an [`Amount`].
const DECIMALS: u32 = 18;

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);

    /// The sum, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }
}

impl std::str::FromStr for Amount {
    type Err = PolicyError;

    /// A decimal such as `12`, `0.5` or `1000.000000000000000001`; no sign,
    /// exponent or separators.
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        let bad = || PolicyError::Amount(s.chars().take(64).collect());
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits(whole)
            || !digits(frac)
            || frac.len() > DECIMALS as usize
            || (s.contains('.') && frac.is_empty())
        {
            return Err(bad());
        }
        let unit = 10u128.pow(DECIMALS);
        let w: u128 = whole.parse().map_err(|_| bad())?;
        let f: u128 = if frac.is_empty() {
            0
        } else {
            let scale = 10u128.pow(DECIMALS - frac.len() as u32);
            frac.parse::<u128>().map_err(|_| bad())? * scale
        };
        w.checked_mul(unit)
            .and_then(|w| w.checked_add(f))
            .map(Amount)
            .ok_or_else(bad)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = 10u128.pow(DECIMALS);
        let (w, frac) = (self.0 / unit, self.0 % unit);
        if frac == 0 {
            return write!(f, "{w}");
        }
        let frac = format!("{frac:018}");
        write!(f, "{w}.{}", frac.trim_end_matches('0'))
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a policy file is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// Not TOML, or not this schema.
    #[error("policy file: {0}")]
    Syntax(String),
    /// A rule that cannot be applied.
    #[error("policy file: {0}")]
    Invalid(String),
    /// Not an amount.
    #[error("`{0}` is not an amount (a decimal such as 12 or 0.5, at most 18 decimals)")]
    Amount(String),
}

/// A group requirement of a tier.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Require {
    /// A group of `[groups]`.
    pub group: String,
    /// Signers of that group the request must include.
    pub at_least: usize,
}

/// An amount tier.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Its name, reported with a refusal.
    pub name: String,
    /// The asset it covers; `None`: any.
    #[serde(default)]
    pub asset: Option<String>,
    /// Lowest amount covered (inclusive).
    #[serde(default)]
    pub from: Amount,
    /// Amounts from here up are not covered; `None`: no bound.
    #[serde(default)]
    pub below: Option<Amount>,
    /// The signers it requires.
    pub require: Vec<Require>,
}

/// A destination allow-list.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// Its name.
    pub name: String,
    /// The asset it applies to.
    pub asset: String,
    /// The destinations allowed (compared ignoring ASCII case).
    pub destinations: Vec<String>,
}

/// A rolling 24-hour limit.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Its name.
    pub name: String,
    /// A key id, or `*` for every key (each on its own).
    pub key: String,
    /// The asset.
    pub asset: String,
    /// Most signed per key in any 24 hours.
    pub daily: Amount,
}

/// A node's policy.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Named sets of signer nodes.
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    /// Amount tiers, first match applies.
    #[serde(rename = "tier")]
    pub tiers: Vec<Tier>,
    /// Destination allow-lists.
    #[serde(default, rename = "allow")]
    pub allows: Vec<Allow>,
    /// Daily limits.
    #[serde(default, rename = "limit")]
    pub limits: Vec<Limit>,
}

/// What a signature request asks, as far as the policy is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The key's id.
    pub key: &'a str,
    /// The asset, e.g. `ETH`.
    pub asset: &'a str,
    /// The amount.
    pub amount: Amount,
    /// The destination address.
    pub destination: &'a str,
    /// The signer nodes taking part, by name.
    pub signers: &'a [String],
}

/// An earlier signature this node took part in, for the daily limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spend {
    /// When, in seconds since the Unix epoch.
    pub at: u64,
    /// The key's id.
    pub key: String,
    /// The asset.
    pub asset: String,
    /// The amount.
    pub amount: Amount,
}

/// Why a request is refused: the rule, and what it found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `tier NAME`, `allow NAME`, `limit NAME`, or `no tier`.
    pub rule: String,
    /// What the rule found.
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused by {}: {}", self.rule, self.reason)
    }
}

/// Seconds in the rolling window of a limit.
pub const DAY: u64 = 24 * 60 * 60;

impl Policy {
    /// Parses and checks a policy file: every group a tier requires exists
    /// and has at least `at_least` members (at least 1), tier bounds are
    /// ordered, names are unique.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let p: Policy = toml::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<(), PolicyError> {
        let invalid = |m: String| Err(PolicyError::Invalid(m));
        if self.tiers.is_empty() {
            return invalid("no [[tier]]: every request would be refused".into());
        }
        let mut names: Vec<&str> = Vec::new();
        let all = self.tiers.iter().map(|t| &t.name);
        let all = all
            .chain(self.allows.iter().map(|a| &a.name))
            .chain(self.limits.iter().map(|l| &l.name));
        for n in all {
            if n.is_empty() {
                return invalid("a rule has an empty name".into());
            }
            if names.contains(&n.as_str()) {
                return invalid(format!("two rules are named `{n}`"));
            }
            names.push(n);
        }
        for (g, members) in &self.groups {
            let mut m = members.clone();
            m.sort();
            m.dedup();
            if m.len() != members.len() || members.is_empty() {
                return invalid(format!("group `{g}` is empty or lists a node twice"));
            }
        }
        for t in &self.tiers {
            if t.below.is_some_and(|b| b <= t.from) {
                return invalid(format!("tier `{}`: `below` must be above `from`", t.name));
            }
            if t.require.is_empty() {
                return invalid(format!("tier `{}` requires no signers", t.name));
            }
            for r in &t.require {
                let Some(members) = self.groups.get(&r.group) else {
                    return invalid(format!(
                        "tier `{}` requires group `{}`, which [groups] does not define",
                        t.name, r.group
                    ));
                };
                if r.at_least == 0 || r.at_least > members.len() {
                    return invalid(format!(
                        "tier `{}` requires {} of group `{}`, which has {} members",
                        t.name,
                        r.at_least,
                        r.group,
                        members.len()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The tier that applies to `asset` and `amount`: the first that
    /// covers them.
    pub fn tier(&self, asset: &str, amount: Amount) -> Option<&Tier> {
        self.tiers.iter().find(|t| {
            t.asset.as_deref().is_none_or(|a| a == asset)
                && amount >= t.from
                && t.below.is_none_or(|b| amount < b)
        })
    }

    /// Decides `request` at time `now` (seconds since the Unix epoch),
    /// given `history`, the signatures this node took part in. `Ok` names
    /// the tier that allowed it.
    pub fn decide(
        &self,
        request: &Request<'_>,
        now: u64,
        history: &[Spend],
    ) -> Result<String, Refusal> {
        let Some(tier) = self.tier(request.asset, request.amount) else {
            return Err(Refusal {
                rule: "no tier".into(),
                reason: format!("no tier covers {} {}", request.amount, request.asset),
            });
        };
        for r in &tier.require {
            let members = self.groups.get(&r.group).map_or(&[][..], Vec::as_slice);
            let present: Vec<&str> = request
                .signers
                .iter()
                .filter(|s| members.contains(s))
                .map(String::as_str)
                .collect();
            if present.len() < r.at_least {
                return Err(Refusal {
                    rule: format!("tier {}", tier.name),
                    reason: format!(
                        "{} {} needs at least {} signers of group `{}`, the request has {}{}",
                        request.amount,
                        request.asset,
                        r.at_least,
                        r.group,
                        present.len(),
                        if present.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", present.join(", "))
                        }
                    ),
                });
            }
        }
        for a in self.allows.iter().filter(|a| a.asset == request.asset) {
            if !a
                .destinations
                .iter()
                .any(|d| d.eq_ignore_ascii_case(request.destination))
            {
                return Err(Refusal {
                    rule: format!("allow {}", a.name),
                    reason: format!(
                        "destination {} is not on the {} allow-list",
                        request.destination, request.asset
                    ),
                });
            }
        }
        let since = now.saturating_sub(DAY);
        for l in self
            .limits
            .iter()
            .filter(|l| l.asset == request.asset && (l.key == "*" || l.key == request.key))
        {
            let spent = history
                .iter()
                .filter(|s| s.at > since && s.at <= now)
                .filter(|s| s.key == request.key && s.asset == request.asset)
                .try_fold(Amount::ZERO, |acc, s| acc.checked_add(s.amount));
            let total = spent.and_then(|s| s.checked_add(request.amount));
            if total.is_none_or(|t| t > l.daily) {
                return Err(Refusal {
                    rule: format!("limit {}", l.name),
                    reason: format!(
                        "key {} signed {} {} in the last 24 hours; {} more would pass the daily {}",
                        request.key,
                        spent.map_or_else(|| "more than can be counted".into(), |s| s.to_string()),
                        request.asset,
                        request.amount,
                        l.daily
                    ),
                });
            }
        }
        Ok(tier.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE: &str = r#"
        [groups]
        all = ["a", "b", "c", "d", "e"]
        fast = ["a", "b", "c"]

        [[tier]]
        name = "small"
        asset = "ETH"
        below = "10"
        require = [{ group = "all", at_least = 3 }]

        [[tier]]
        name = "medium"
        asset = "ETH"
        from = "10"
        below = "100"
        require = [{ group = "all", at_least = 4 }]

        [[tier]]
        name = "large"
        asset = "ETH"
        from = "100"
        require = [{ group = "all", at_least = 5 }]

        [[tier]]
        name = "btc-fast"
        asset = "BTC"
        below = "0.5"
        require = [{ group = "fast", at_least = 2 }]

        [[allow]]
        name = "eth-book"
        asset = "ETH"
        destinations = ["0xAbC", "0xdef"]

        [[limit]]
        name = "eth-daily"
        key = "*"
        asset = "ETH"
        daily = "150"
    "#;

    fn amount(s: &str) -> Amount {
        s.parse().unwrap()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn req<'a>(asset: &'a str, amt: &str, dest: &'a str, signers: &'a [String]) -> Request<'a> {
        Request {
            key: "k1",
            asset,
            amount: amount(amt),
            destination: dest,
            signers,
        }
    }

    #[test]
    fn amounts_are_exact_decimals() {
        assert_eq!(amount("10"), amount("10.0"));
        assert!(amount("9.999999999999999999") < amount("10"));
        assert_eq!(amount("0.5").to_string(), "0.5");
        assert_eq!(
            amount("1000.000000000000000001").to_string(),
            "1000.000000000000000001"
        );
        for bad in [
            "",
            "-1",
            "1e3",
            "1.",
            ".5",
            "1,000",
            "0.0000000000000000001",
            "9".repeat(40).as_str(),
        ] {
            assert!(bad.parse::<Amount>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tiers_pick_the_quorum_by_amount() {
        let p = Policy::from_toml(FIVE).unwrap();
        let three = names(&["a", "b", "c"]);
        let four = names(&["a", "b", "c", "d"]);
        let five = names(&["a", "b", "c", "d", "e"]);
        assert_eq!(
            p.decide(&req("ETH", "9.99", "0xabc", &three), 0, &[])
                .unwrap(),
            "small"
        );
        let r = p
            .decide(&req("ETH", "10", "0xabc", &three), 0, &[])
            .unwrap_err();
        assert_eq!(r.rule, "tier medium");
        assert!(r.reason.contains("at least 4"), "{r}");
        assert_eq!(
            p.decide(&req("ETH", "10", "0xabc", &four), 0, &[]).unwrap(),
            "medium"
        );
        let r = p
            .decide(&req("ETH", "100", "0xabc", &four), 0, &[])
            .unwrap_err();
        assert_eq!(r.rule, "tier large");
        assert_eq!(
            p.decide(&req("ETH", "100", "0xabc", &five), 0, &[])
                .unwrap(),
            "large"
        );
        // Outsiders do not count towards a group.
        let outsiders = names(&["a", "x", "y"]);
        let r = p
            .decide(&req("BTC", "0.1", "bc1q", &outsiders), 0, &[])
            .unwrap_err();
        assert_eq!(r.rule, "tier btc-fast");
        let r = p
            .decide(&req("BTC", "0.5", "bc1q", &three), 0, &[])
            .unwrap_err();
        assert_eq!(r.rule, "no tier");
        let r = p.decide(&req("SOL", "1", "x", &five), 0, &[]).unwrap_err();
        assert_eq!(r.rule, "no tier");
    }

    #[test]
    fn destinations_must_be_allowed() {
        let p = Policy::from_toml(FIVE).unwrap();
        let three = names(&["a", "b", "c"]);
        assert!(p.decide(&req("ETH", "1", "0xABC", &three), 0, &[]).is_ok());
        let r = p
            .decide(&req("ETH", "1", "0x999", &three), 0, &[])
            .unwrap_err();
        assert_eq!(r.rule, "allow eth-book");
        // No allow-list for BTC: any destination.
        assert!(
            p.decide(&req("BTC", "0.1", "anything", &three), 0, &[])
                .is_ok()
        );
    }

    #[test]
    fn daily_limits_count_the_last_24_hours_of_the_same_key() {
        let p = Policy::from_toml(FIVE).unwrap();
        let five = names(&["a", "b", "c", "d", "e"]);
        let now = 1_000_000;
        let spend = |at, key: &str, amt| Spend {
            at,
            key: key.into(),
            asset: "ETH".into(),
            amount: amount(amt),
        };
        let history = vec![
            spend(now - 100, "k1", "90"),
            spend(now - DAY, "k1", "1000"), // just outside the window
            spend(now - 50, "k2", "1000"),  // another key
        ];
        assert!(
            p.decide(&req("ETH", "60", "0xdef", &five), now, &history)
                .is_ok()
        );
        let r = p
            .decide(
                &req("ETH", "60.000000000000000001", "0xdef", &five),
                now,
                &history,
            )
            .unwrap_err();
        assert_eq!(r.rule, "limit eth-daily");
        assert!(r.reason.contains("signed 90 ETH"), "{r}");
    }

    #[test]
    fn bad_policies_are_refused_with_the_reason() {
        let cases = [
            ("", "tier"),
            (
                "[[tier]]\nname = \"t\"\nrequire = [{ group = \"g\", at_least = 1 }]",
                "does not define",
            ),
            (
                "[groups]\ng = [\"a\"]\n[[tier]]\nname = \"t\"\nrequire = [{ group = \"g\", at_least = 2 }]",
                "1 members",
            ),
            (
                "[groups]\ng = [\"a\", \"a\"]\n[[tier]]\nname = \"t\"\nrequire = [{ group = \"g\", at_least = 1 }]",
                "twice",
            ),
            (
                "[groups]\ng = [\"a\"]\n[[tier]]\nname = \"t\"\nfrom = \"5\"\nbelow = \"5\"\nrequire = [{ group = \"g\", at_least = 1 }]",
                "above",
            ),
            (
                "[groups]\ng = [\"a\"]\n[[tier]]\nname = \"t\"\nbelow = \"ten\"\nrequire = [{ group = \"g\", at_least = 1 }]",
                "not an amount",
            ),
            (
                "[groups]\ng = [\"a\"]\n[[tier]]\nname = \"t\"\nquorum = 3\nrequire = [{ group = \"g\", at_least = 1 }]",
                "unknown field",
            ),
            (
                "[groups]\ng = [\"a\"]\n[[tier]]\nname = \"t\"\nrequire = [{ group = \"g\", at_least = 1 }]\n[[limit]]\nname = \"t\"\nkey = \"*\"\nasset = \"ETH\"\ndaily = \"1\"",
                "named `t`",
            ),
        ];
        for (text, needle) in cases {
            let e = Policy::from_toml(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }
}
