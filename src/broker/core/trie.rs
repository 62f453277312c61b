//! The subscription index: which subscriptions match a topic.
//!
//! A trie with one node per filter level, kept in an arena (`Vec` of nodes
//! addressed by index) so that no operation recurses: insert, remove and
//! match are loops over the levels with an explicit stack. A device may send a
//! topic of thousands of levels; recursion on topic data is how other brokers
//! overflowed their stacks on exactly that.
//!
//! Values are opaque to the trie (`V`); a filter holds any number of them, and
//! removing one prunes the nodes left empty.

use std::collections::HashMap;

/// Index of a node in the arena.
type NodeId = usize;

const ROOT: NodeId = 0;

#[derive(Debug)]
struct Node<V> {
    parent: NodeId,
    /// The level this node stands for, as its parent knows it.
    level: Box<str>,
    children: HashMap<Box<str>, NodeId>,
    plus: Option<NodeId>,
    hash: Option<NodeId>,
    values: Vec<V>,
}

impl<V> Node<V> {
    fn new(parent: NodeId, level: &str) -> Self {
        Self {
            parent,
            level: level.into(),
            children: HashMap::new(),
            plus: None,
            hash: None,
            values: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.hash.is_none()
            && self.values.is_empty()
    }
}

#[derive(Debug)]
pub struct Trie<V> {
    nodes: Vec<Option<Node<V>>>,
    free: Vec<NodeId>,
    len: usize,
}

impl<V: PartialEq> Default for Trie<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: PartialEq> Trie<V> {
    pub fn new() -> Self {
        Self {
            nodes: vec![Some(Node::new(ROOT, ""))],
            free: Vec::new(),
            len: 0,
        }
    }

    /// Values stored, over all filters.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn node(&self, id: NodeId) -> &Node<V> {
        self.nodes[id].as_ref().expect("live trie node")
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node<V> {
        self.nodes[id].as_mut().expect("live trie node")
    }

    fn allocate(&mut self, parent: NodeId, level: &str) -> NodeId {
        let node = Node::new(parent, level);
        if let Some(id) = self.free.pop() {
            self.nodes[id] = Some(node);
            id
        } else {
            self.nodes.push(Some(node));
            self.nodes.len() - 1
        }
    }

    /// Adds `value` under `filter`; a value already there is replaced.
    pub fn insert(&mut self, filter: &str, value: V) {
        let mut at = ROOT;
        for level in filter.split('/') {
            let existing = match level {
                "+" => self.node(at).plus,
                "#" => self.node(at).hash,
                _ => self.node(at).children.get(level).copied(),
            };
            at = match existing {
                Some(next) => next,
                None => {
                    let next = self.allocate(at, level);
                    let node = self.node_mut(at);
                    match level {
                        "+" => node.plus = Some(next),
                        "#" => node.hash = Some(next),
                        _ => {
                            node.children.insert(level.into(), next);
                        }
                    }
                    next
                }
            };
        }
        let values = &mut self.node_mut(at).values;
        if let Some(slot) = values.iter_mut().find(|stored| **stored == value) {
            *slot = value;
        } else {
            values.push(value);
            self.len += 1;
        }
    }

    /// Removes the value equal to `value` under `filter`; returns whether one was there.
    pub fn remove(&mut self, filter: &str, value: &V) -> bool {
        let mut at = ROOT;
        for level in filter.split('/') {
            let next = match level {
                "+" => self.node(at).plus,
                "#" => self.node(at).hash,
                _ => self.node(at).children.get(level).copied(),
            };
            match next {
                Some(next) => at = next,
                None => return false,
            }
        }
        let values = &mut self.node_mut(at).values;
        let Some(position) = values.iter().position(|stored| stored == value) else {
            return false;
        };
        values.swap_remove(position);
        self.len -= 1;
        // Prune upwards while nodes hold nothing.
        while at != ROOT && self.node(at).is_empty() {
            let node = self.nodes[at].take().expect("live trie node");
            self.free.push(at);
            let parent = self.node_mut(node.parent);
            match &*node.level {
                "+" => parent.plus = None,
                "#" => parent.hash = None,
                level => {
                    parent.children.remove(level);
                }
            }
            at = node.parent;
        }
        true
    }

    /// Calls `found` with every value whose filter matches the concrete `topic`.
    /// Topics starting with `$` are not matched by a leading `+` or `#`
    /// (MQTT-4.7.2-1).
    pub fn for_each_match(&self, topic: &str, mut found: impl FnMut(&V)) {
        let levels: Vec<&str> = topic.split('/').collect();
        let dollar = topic.starts_with('$');
        // (node, index of the next level to match)
        let mut stack: Vec<(NodeId, usize)> = vec![(ROOT, 0)];
        while let Some((at, depth)) = stack.pop() {
            let node = self.node(at);
            let wildcards_allowed = !(dollar && depth == 0);
            // `a/#` matches `a` too: a `#` child matches whatever remains, even nothing.
            if wildcards_allowed {
                if let Some(hash) = node.hash {
                    self.node(hash).values.iter().for_each(&mut found);
                }
            }
            if depth == levels.len() {
                node.values.iter().for_each(&mut found);
                continue;
            }
            if let Some(&child) = node.children.get(levels[depth]) {
                stack.push((child, depth + 1));
            }
            if wildcards_allowed {
                if let Some(plus) = node.plus {
                    stack.push((plus, depth + 1));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matching(trie: &Trie<&'static str>, topic: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        trie.for_each_match(topic, |value| out.push(*value));
        out.sort_unstable();
        out
    }

    #[test]
    fn matches_like_the_spec_examples() {
        let mut trie = Trie::new();
        for filter in [
            "sport/tennis/player1/#",
            "sport/#",
            "sport/tennis/+",
            "sport/+",
            "+/+",
            "/+",
            "+",
            "#",
            "a/b",
        ] {
            trie.insert(filter, filter);
        }
        assert_eq!(
            matching(&trie, "sport/tennis/player1"),
            ["#", "sport/#", "sport/tennis/+", "sport/tennis/player1/#"]
        );
        assert_eq!(matching(&trie, "sport"), ["#", "+", "sport/#"]);
        assert_eq!(
            matching(&trie, "sport/"),
            ["#", "+/+", "sport/#", "sport/+"]
        );
        assert_eq!(matching(&trie, "/finance"), ["#", "+/+", "/+"]);
        assert_eq!(matching(&trie, "a/b"), ["#", "+/+", "a/b"]);
    }

    #[test]
    fn dollar_topics_escape_leading_wildcards() {
        let mut trie = Trie::new();
        for filter in ["#", "+/broker", "$SYS/#", "$SYS/+", "a/#"] {
            trie.insert(filter, filter);
        }
        assert_eq!(matching(&trie, "$SYS/broker"), ["$SYS/#", "$SYS/+"]);
        assert_eq!(matching(&trie, "a/$b"), ["#", "a/#"]);
    }

    #[test]
    fn agrees_with_topic_matches() {
        let filters = [
            "#", "a/#", "a/+", "a/+/c", "+/b", "a/b", "$SYS/#", "/+", "+/#", "+",
        ];
        let topics = ["a", "a/b", "a/b/c", "x/b", "$SYS/x", "/a", "a/", "", "/"];
        let mut trie = Trie::new();
        for filter in filters {
            trie.insert(filter, filter);
        }
        for topic in topics {
            let mut expected: Vec<&str> = filters
                .iter()
                .copied()
                .filter(|filter| crate::topic::matches(filter, topic))
                .collect();
            expected.sort_unstable();
            assert_eq!(matching(&trie, topic), expected, "topic {topic:?}");
        }
    }

    #[test]
    fn removing_prunes_and_keeps_the_others() {
        let mut trie = Trie::new();
        trie.insert("a/b/c", "one");
        trie.insert("a/b/c", "two");
        trie.insert("a/+", "three");
        assert_eq!(trie.len(), 3);
        assert!(trie.remove("a/b/c", &"one"));
        assert!(!trie.remove("a/b/c", &"one"));
        assert!(!trie.remove("x/y", &"one"));
        assert_eq!(matching(&trie, "a/b/c"), ["two"]);
        assert!(trie.remove("a/b/c", &"two"));
        assert!(trie.remove("a/+", &"three"));
        assert!(trie.is_empty());
        assert!(trie.node(ROOT).is_empty(), "every node pruned");
        trie.insert("a/b/c", "again");
        assert_eq!(matching(&trie, "a/b/c"), ["again"]);
    }

    #[test]
    fn inserting_twice_keeps_one() {
        let mut trie = Trie::new();
        trie.insert("a", "x");
        trie.insert("a", "x");
        assert_eq!(trie.len(), 1);
        assert_eq!(matching(&trie, "a"), ["x"]);
    }

    #[test]
    fn ten_thousand_levels_do_not_recurse() {
        let deep = vec!["l"; 10_000].join("/");
        let mut trie = Trie::new();
        trie.insert(&deep, "deep");
        trie.insert("#", "all");
        let deep_plus = format!("{}/+", vec!["l"; 9_999].join("/"));
        trie.insert(&deep_plus, "plus");
        assert_eq!(matching(&trie, &deep), ["all", "deep", "plus"]);
        assert!(trie.remove(&deep, &"deep"));
        assert!(trie.remove(&deep_plus, &"plus"));
        assert_eq!(matching(&trie, &deep), ["all"]);
    }
}
