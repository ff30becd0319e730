//! The database's data: families of key/value pairs, per-node shards, and their merge.

use std::collections::{BTreeMap, BTreeSet};

use aemp_transport::Value;

/// One family: key -> value.
pub(crate) type Family = BTreeMap<String, Value>;
/// Families by name.
pub(crate) type Db = BTreeMap<String, Family>;

/// Keys with the merged value they had before a change.
type Before = Vec<(String, Option<Value>)>;

/// A change of one family: keys set (with their values) and keys deleted.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Diff {
    pub set: Vec<(String, Value)>,
    pub del: Vec<String>,
}

impl Diff {
    pub(crate) fn is_empty(&self) -> bool {
        self.set.is_empty() && self.del.is_empty()
    }
}

/// Reads a wire DB `{family: {key: value}}` (keys may be Perl byte strings).
pub(crate) fn from_value(v: &Value) -> Db {
    let mut db = Db::new();
    for (fam, entries) in v.as_map().unwrap_or_default() {
        let Some(fam) = fam.to_text() else { continue };
        db.insert(fam.into_owned(), family_from_value(entries));
    }
    db
}

pub(crate) fn family_from_value(v: &Value) -> Family {
    v.as_map()
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| Some((k.to_text()?.into_owned(), v.clone())))
        .collect()
}

pub(crate) fn family_to_value(f: &Family) -> Value {
    Value::Map(
        f.iter()
            .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
            .collect(),
    )
}

pub(crate) fn to_value(db: &Db) -> Value {
    Value::Map(
        db.iter()
            .map(|(f, fam)| (Value::from(f.as_str()), family_to_value(fam)))
            .collect(),
    )
}

/// The keys of a wire list `[key...]`.
pub(crate) fn keys_from_value(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_default()
        .iter()
        .filter_map(|k| Some(k.to_text()?.into_owned()))
        .collect()
}

/// Shards by node, and the merged view (which is the union: a key deleted in one shard
/// keeps the value another shard holds; where shards disagree, the first in node order
/// wins, so the choice is stable).
#[derive(Debug, Default)]
pub(crate) struct Shards {
    pub shards: BTreeMap<String, Db>,
}

impl Shards {
    pub(crate) fn value(&self, family: &str, key: &str) -> Option<&Value> {
        self.shards.values().find_map(|db| db.get(family)?.get(key))
    }

    /// The merged family.
    pub(crate) fn family(&self, family: &str) -> Family {
        let mut out = Family::new();
        for db in self.shards.values().rev() {
            if let Some(f) = db.get(family) {
                out.extend(f.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        out
    }

    /// The merged database.
    pub(crate) fn all(&self) -> Db {
        let families: BTreeSet<&String> = self.shards.values().flat_map(|db| db.keys()).collect();
        families
            .into_iter()
            .map(|f| (f.clone(), self.family(f)))
            .filter(|(_, f)| !f.is_empty())
            .collect()
    }

    /// Applies `set`/`del` to `node`'s shard; returns the change of the merged view.
    pub(crate) fn apply(
        &mut self,
        node: &str,
        family: &str,
        set: &[(String, Value)],
        del: &[String],
    ) -> Diff {
        let keys: BTreeSet<&String> = set.iter().map(|(k, _)| k).chain(del).collect();
        let before: Vec<(String, Option<Value>)> = keys
            .iter()
            .map(|k| ((*k).clone(), self.value(family, k).cloned()))
            .collect();
        let shard = self.shards.entry(node.to_owned()).or_default();
        let fam = shard.entry(family.to_owned()).or_default();
        for k in del {
            fam.remove(k);
        }
        for (k, v) in set {
            fam.insert(k.clone(), v.clone());
        }
        if fam.is_empty() {
            shard.remove(family);
        }
        self.diff(family, before)
    }

    /// Replaces `node`'s shard (`None`: removes it); returns the changes per family.
    pub(crate) fn replace(&mut self, node: &str, db: Option<Db>) -> Vec<(String, Diff)> {
        let old = self.shards.get(node).cloned().unwrap_or_default();
        let new = db.clone().unwrap_or_default();
        let families: BTreeSet<String> = old.keys().chain(new.keys()).cloned().collect();
        let before: Vec<(String, Before)> = families
            .iter()
            .map(|f| {
                let keys: BTreeSet<&String> = old
                    .get(f)
                    .into_iter()
                    .flat_map(|x| x.keys())
                    .chain(new.get(f).into_iter().flat_map(|x| x.keys()))
                    .collect();
                (
                    f.clone(),
                    keys.into_iter()
                        .map(|k| (k.clone(), self.value(f, k).cloned()))
                        .collect(),
                )
            })
            .collect();
        match db {
            Some(db) => {
                self.shards.insert(node.to_owned(), db);
            }
            None => {
                self.shards.remove(node);
            }
        }
        before
            .into_iter()
            .map(|(f, b)| {
                let d = self.diff(&f, b);
                (f, d)
            })
            .filter(|(_, d)| !d.is_empty())
            .collect()
    }

    fn diff(&self, family: &str, before: Before) -> Diff {
        let mut d = Diff::default();
        for (k, old) in before {
            match (old, self.value(family, &k)) {
                (Some(_), None) => d.del.push(k),
                (old, Some(new)) if old.as_ref() != Some(new) => d.set.push((k, new.clone())),
                _ => {}
            }
        }
        d
    }
}

/// A diff between two versions of a family: (set, deleted), for `g_chg1` snapshots.
pub(crate) fn diff_families(old: &Family, new: &Family) -> Diff {
    let mut d = Diff::default();
    for (k, v) in new {
        if old.get(k) != Some(v) {
            d.set.push((k.clone(), v.clone()));
        }
    }
    for k in old.keys() {
        if !new.contains_key(k) {
            d.del.push(k.clone());
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_view_keeps_a_key_another_shard_holds() {
        let mut s = Shards::default();
        let d = s.apply("a", "f", &[("k".into(), Value::from(1))], &[]);
        assert_eq!(d.set, vec![("k".to_owned(), Value::from(1))]);
        let d = s.apply("b", "f", &[("k".into(), Value::from(2))], &[]);
        assert!(d.is_empty(), "a's value wins, nothing changed: {d:?}");
        let d = s.apply("a", "f", &[], &["k".into()]);
        assert_eq!(
            d.set,
            vec![("k".to_owned(), Value::from(2))],
            "b's value shows through"
        );
        let changes = s.replace("b", None);
        assert_eq!(
            changes,
            vec![(
                "f".to_owned(),
                Diff {
                    set: vec![],
                    del: vec!["k".into()]
                }
            )]
        );
        assert!(s.all().is_empty());
    }
}
