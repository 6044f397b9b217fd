//! A randomized serializability checker: Jepsen's Elle "list-append"
//! workload (Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies from
//! Experimental Observations", VLDB 2020) against the transaction API.
//!
//! **Workload.** A few keys each hold a list of u64s (stored as 8-byte
//! big-endian words). Several threads run random transactions of one to
//! four micro-operations, each a statement: `read(k)` records k's list;
//! `append(k, e)` reads the list and writes it back with `e` added, `e` being
//! unique in the whole run. An append that loses a write-write race runs
//! again after a read refresh, as the SQL session runs statements. Threads
//! yield at random before statements, the
//! first one included (a client may pause between BEGIN and its first query;
//! the snapshot is taken at the query). Nothing is retried; an error rolls
//! the transaction back and is counted by SQLSTATE (40001, 40P01 or 55P03;
//! any other fails the test). At the end one more transaction reads every
//! key.
//!
//! **Inference.** Because every element is unique and lists only grow, an
//! observed list names the transactions that wrote it and their order:
//! - the *version order* of a key is its longest observed list; every other
//!   observed list must be a prefix of it, and every committed append must be
//!   in it (the final read comes after all of them);
//! - `ww`: the appender of element i precedes the appender of element i + 1;
//! - `wr`: the appender of a read list's last element precedes the reader;
//! - `rw`: a reader precedes the appender of the element that follows what it
//!   read (the first one, if it read the empty list): it missed that write.
//!
//! **Anomalies.** Non-cyclic ones are found directly: G1a (a committed read
//! saw an aborted append), G1b (a read ends between two appends of one
//! transaction to the key), duplicate or unknown elements, incompatible
//! orders (one read list not a prefix of another), lost updates (a committed
//! append missing from the version order) and internal inconsistency (a
//! transaction not seeing its own earlier reads and appends). Cycles are
//! found with Tarjan's strongly connected components, and for each component
//! the worst concrete cycle is reported: G0 (ww only), G1c (ww and wr),
//! G-single (exactly one rw) or G2-item (two or more rw).
//!
//! **Asserted.** SERIALIZABLE: no anomaly of any kind. REPEATABLE READ
//! (snapshot isolation, which allows write skew): no anomaly but cycles
//! with two or more rw edges (G2-item), which are only counted and printed;
//! a cycle with a single rw edge (G-single) is an error there too. A
//! failure prints one example of each anomaly kind: for a cycle, each
//! transaction with its operations and the kind and key of each edge.
//!
//! **Modes.** By default each test runs a few fixed seeds (the seed fixes the
//! operations; thread scheduling still varies). `BASALT_CHECKER_SECONDS=N`
//! keeps running further seeds for N seconds per test (a soak). Each run
//! prints one summary line.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use basalt::Config;
use basalt::storage::vfs::SplitMix64;
use basalt::storage::{BTreeEngine, Engine, MemoryEngine};
use basalt::txn::{IsolationLevel, Mvcc, Transaction};

const TREE: u64 = 7;
const KEYS: u64 = 8;
const THREADS: u64 = 6;
const TRANSACTIONS_PER_THREAD: u64 = 1000;
/// Element `e` of thread `t` is `(t + 1) * ELEMENT_BASE + n`, n counting up.
const ELEMENT_BASE: u64 = 1_000_000;
/// A safety net against a hang; a real wait never gets near it.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// Abort codes a transaction may end with; any other is a failure.
const EXPECTED_CODES: [&str; 3] = ["40001", "40P01", "55P03"];

const WW: u8 = 1;
const WR: u8 = 2;
const RW: u8 = 4;
const KINDS: [(u8, &str); 3] = [(WW, "ww"), (WR, "wr"), (RW, "rw")];
const CYCLE_KINDS: [&str; 4] = ["G0", "G1c", "G-single", "G2-item"];

// ---------------------------------------------------------------- history

#[derive(Clone, Debug)]
enum Operation {
    Read { key: u64, observed: Vec<u64> },
    Append { key: u64, element: u64 },
}

/// One transaction as the client saw it.
#[derive(Clone, Debug)]
struct Record {
    /// basalt's transaction id (0 in hand-made histories), for messages.
    id: u64,
    thread: u64,
    /// Completed reads and attempted appends, in order.
    operations: Vec<Operation>,
    /// `None` if it committed, else the SQLSTATE of the error that ended it.
    failure: Option<&'static str>,
}

impl Record {
    fn new(id: u64, thread: u64) -> Record {
        let (operations, failure) = (Vec::new(), None);
        Record {
            id,
            thread,
            operations,
            failure,
        }
    }

    fn committed(&self) -> bool {
        self.failure.is_none()
    }
}

fn show_list(list: &[u64]) -> String {
    const SHOWN: usize = 4;
    let hidden = list.len().saturating_sub(SHOWN);
    let tail: Vec<String> = list[hidden..].iter().map(u64::to_string).collect();
    match hidden {
        0 => format!("[{}]", tail.join(", ")),
        _ => format!("[…{hidden} more, {}]", tail.join(", ")),
    }
}

fn describe(history: &[Record], index: usize) -> String {
    let record = &history[index];
    let operations: Vec<String> = record
        .operations
        .iter()
        .map(|operation| match operation {
            Operation::Read { key, observed } => format!("r({key}, {})", show_list(observed)),
            Operation::Append { key, element } => format!("a({key}, {element})"),
        })
        .collect();
    let outcome = (record.failure).map_or("committed".into(), |code| format!("aborted {code}"));
    format!(
        "T{index} (txn {}, thread {}, {outcome}): {}",
        record.id,
        record.thread,
        operations.join(" ")
    )
}

// ---------------------------------------------------------------- workload

fn decode(value: Option<&[u8]>) -> Vec<u64> {
    let bytes = value.unwrap_or_default();
    assert!(
        bytes.len().is_multiple_of(8),
        "a stored list of {} bytes",
        bytes.len()
    );
    bytes
        .chunks_exact(8)
        .map(|word| u64::from_be_bytes(word.try_into().expect("8-byte word")))
        .collect()
}

/// A planned operation: the key, the element to append (`None`: a read),
/// and whether to yield the processor first.
type Step = (u64, Option<u64>, bool);

/// Runs the planned operations, each as a statement, recording them.
fn execute(txn: &mut Transaction, plan: &[Step], record: &mut Record) -> basalt::Result<()> {
    for &(key, append, pause) in plan {
        if pause {
            // Before the first statement too: a client may wait between
            // BEGIN and its first query (the snapshot is taken at the query).
            std::thread::yield_now();
        }
        txn.begin_statement();
        let value = txn.get(TREE, &key.to_be_bytes())?;
        let Some(element) = append else {
            let observed = decode(value.as_deref());
            record.operations.push(Operation::Read { key, observed });
            continue;
        };
        // Read-modify-write, as a client would; the get is not a recorded read.
        record.operations.push(Operation::Append { key, element });
        let mut outcome = append_to(txn, key, element, value);
        // As the SQL session runs a statement: again after a read refresh
        // (the statement lost a write-write race and nothing read before
        // changed; docs/transactions.md).
        while outcome.is_err() && txn.refresh_after_conflict()? {
            let value = txn.get(TREE, &key.to_be_bytes())?;
            outcome = append_to(txn, key, element, value);
        }
        outcome?;
    }
    Ok(())
}

fn append_to(
    txn: &mut Transaction,
    key: u64,
    element: u64,
    value: Option<Vec<u8>>,
) -> basalt::Result<()> {
    let mut list = value.unwrap_or_default();
    list.extend_from_slice(&element.to_be_bytes());
    txn.set(TREE, &key.to_be_bytes(), &list)
}

fn worker(mvcc: &Arc<Mvcc>, level: IsolationLevel, seed: u64, thread: u64) -> Vec<Record> {
    let mut random = SplitMix64(seed ^ (thread + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let (mut counter, mut records) = (0, Vec::new());
    for _ in 0..TRANSACTIONS_PER_THREAD {
        let plan: Vec<Step> = (0..1 + random.below(4))
            .map(|_| {
                let key = random.below(KEYS);
                let append = (random.below(2) == 0).then(|| {
                    counter += 1;
                    (thread + 1) * ELEMENT_BASE + counter
                });
                (key, append, random.below(2) == 0)
            })
            .collect();
        let mut txn = mvcc.begin(level).expect("begin");
        txn.set_lock_timeout(Some(LOCK_TIMEOUT));
        let mut record = Record::new(txn.id(), thread);
        let outcome = match execute(&mut txn, &plan, &mut record) {
            Ok(()) => txn.commit(),
            Err(error) => {
                txn.rollback().expect("rollback after an error");
                Err(error)
            }
        };
        record.failure = outcome.err().map(|error| error.sqlstate().code());
        records.push(record);
    }
    records
}

/// One run: the threads' transactions, then a final read of every key.
fn run(engine: Arc<dyn Engine>, level: IsolationLevel, seed: u64) -> Vec<Record> {
    engine.create_tree(TREE).expect("create tree");
    let mvcc = Mvcc::open(engine).expect("open mvcc");
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let mvcc = Arc::clone(&mvcc);
            std::thread::spawn(move || worker(&mvcc, level, seed, thread))
        })
        .collect();
    let mut history: Vec<Record> = handles
        .into_iter()
        .flat_map(|handle| handle.join().expect("worker thread"))
        .collect();
    let mut txn = mvcc.begin(IsolationLevel::Serializable).expect("begin");
    let mut record = Record::new(txn.id(), THREADS);
    let plan: Vec<Step> = (0..KEYS).map(|key| (key, None, false)).collect();
    execute(&mut txn, &plan, &mut record).expect("final read");
    txn.commit().expect("commit final read");
    history.push(record);
    history
}

// ---------------------------------------------------------------- checker

/// The dependency kinds from one transaction to another, and for each kind
/// the key that gave it (indexed like `KINDS`).
#[derive(Clone, Copy, Default)]
struct Edge {
    kinds: u8,
    keys: [u64; 3],
}

struct Graph {
    /// `edges[from][to]`; only committed transactions have edges.
    edges: Vec<BTreeMap<usize, Edge>>,
}

impl Graph {
    fn add(&mut self, from: usize, to: usize, kind: u8, key: u64) {
        if from == to {
            return;
        }
        let edge = self.edges[from].entry(to).or_default();
        if edge.kinds & kind == 0 {
            edge.kinds |= kind;
            edge.keys[kind.trailing_zeros() as usize] = key;
        }
    }

    fn successors(&self, node: usize, mask: u8) -> impl Iterator<Item = usize> + '_ {
        self.edges[node]
            .iter()
            .filter(move |(_, edge)| edge.kinds & mask != 0)
            .map(|(&to, _)| to)
    }
}

#[derive(Default)]
struct Analysis {
    /// (kind, description), e.g. ("G1a", "…").
    anomalies: Vec<(&'static str, String)>,
    edge_counts: [usize; 3],
}

/// Tarjan's strongly connected components of the subgraph on `nodes` with
/// the edges in `mask`, iteratively; only components of two or more nodes.
fn components(graph: &Graph, nodes: &[usize], mask: u8) -> Vec<Vec<usize>> {
    let mut inside = vec![false; graph.edges.len()];
    nodes.iter().for_each(|&node| inside[node] = true);
    let successors = |node: usize| -> Vec<usize> {
        let targets = graph.successors(node, mask);
        targets.filter(|&to| inside[to]).collect()
    };
    // Per node: visit order, lowest order reachable, whether on the stack.
    let mut state: Vec<(Option<usize>, usize, bool)> = vec![(None, 0, false); inside.len()];
    let (mut stack, mut found, mut visited) = (Vec::new(), Vec::new(), 0);
    for &root in nodes {
        if state[root].0.is_some() {
            continue;
        }
        // Depth-first: each node with its successors and the next to try.
        let mut work = vec![(root, successors(root), 0)];
        state[root] = (Some(visited), visited, true);
        visited += 1;
        stack.push(root);
        while let Some((node, next, position)) = work.last_mut() {
            let node = *node;
            if let Some(&next) = next.get(*position) {
                *position += 1;
                match state[next] {
                    (None, ..) => {
                        state[next] = (Some(visited), visited, true);
                        visited += 1;
                        stack.push(next);
                        work.push((next, successors(next), 0));
                    }
                    (Some(order), _, true) => state[node].1 = state[node].1.min(order),
                    _ => {}
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, ..)) = work.last() {
                state[parent].1 = state[parent].1.min(state[node].1);
            }
            if Some(state[node].1) == state[node].0 {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    state[member].2 = false;
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    found.push(component);
                }
            }
        }
    }
    found
}

/// A shortest path `from` → … → `to` over `mask` edges inside `inside`.
fn path(graph: &Graph, from: usize, to: usize, mask: u8, inside: &[bool]) -> Option<Vec<usize>> {
    let mut parent: HashMap<usize, usize> = HashMap::from([(from, from)]);
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        if node == to {
            let (mut nodes, mut current) = (vec![to], to);
            while current != from {
                current = parent[&current];
                nodes.push(current);
            }
            nodes.reverse();
            return Some(nodes);
        }
        for next in graph.successors(node, mask) {
            if inside[next] && !parent.contains_key(&next) {
                parent.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

/// A cycle as its nodes and, for each, the kind of the edge to the next.
type Cycle = Vec<(usize, u8)>;

/// Closes `first → path[0] → … → first`, labelling each edge with its
/// preferred kind (ww over wr over rw) among those allowed.
fn close(graph: &Graph, first: usize, first_mask: u8, rest: &[usize], mask: u8) -> Cycle {
    let mut nodes = vec![first];
    nodes.extend(rest.iter().copied().filter(|&node| node != first));
    (0..nodes.len())
        .map(|position| {
            let (from, to) = (nodes[position], nodes[(position + 1) % nodes.len()]);
            let allowed = if position == 0 { first_mask } else { mask };
            let kinds = graph.edges[from][&to].kinds & allowed;
            (from, 1 << kinds.trailing_zeros())
        })
        .collect()
}

/// A cycle inside `component` using only `mask` edges, if there is one.
fn cycle_within(graph: &Graph, component: &[usize], mask: u8) -> Option<Cycle> {
    let inner = components(graph, component, mask).into_iter().next()?;
    let mut inside = vec![false; graph.edges.len()];
    inner.iter().for_each(|&node| inside[node] = true);
    let first = inner[0];
    let second = graph.successors(first, mask).find(|&to| inside[to])?;
    let rest = path(graph, second, first, mask, &inside)?;
    Some(close(graph, first, mask, &rest, mask))
}

/// A cycle inside `component` with exactly one rw edge, if there is one.
fn single_antidependency_cycle(graph: &Graph, component: &[usize]) -> Option<Cycle> {
    let mut inside = vec![false; graph.edges.len()];
    component.iter().for_each(|&node| inside[node] = true);
    component.iter().find_map(|&reader| {
        graph
            .successors(reader, RW)
            .filter(|&writer| inside[writer])
            .find_map(|writer| path(graph, writer, reader, WW | WR, &inside))
            .map(|rest| close(graph, reader, RW, &rest, WW | WR))
    })
}

fn classify(cycle: &Cycle) -> &'static str {
    let rw = cycle.iter().filter(|(_, kind)| *kind == RW).count();
    let wr = cycle.iter().filter(|(_, kind)| *kind == WR).count();
    match (rw, wr) {
        (0, 0) => "G0",
        (0, _) => "G1c",
        (1, _) => "G-single",
        _ => "G2-item",
    }
}

fn describe_cycle(history: &[Record], graph: &Graph, cycle: &Cycle) -> String {
    let mut text = format!("{} cycle of {} transactions:", classify(cycle), cycle.len());
    for (position, &(node, kind)) in cycle.iter().enumerate() {
        let next = cycle[(position + 1) % cycle.len()].0;
        let (_, name) = KINDS.iter().find(|(bit, _)| *bit == kind).expect("kind");
        let key = graph.edges[node][&next].keys[kind.trailing_zeros() as usize];
        text += &format!(
            "\n  {}\n    --{name} on key {key}--> T{next}",
            describe(history, node)
        );
    }
    text
}

/// Infers the dependency graph of a history and reports every anomaly.
fn check(history: &[Record]) -> Analysis {
    let mut analysis = Analysis::default();
    let mut report = |kind: &'static str, text: String| analysis.anomalies.push((kind, text));
    // Who appended each element, and each transaction's appends per key.
    let mut appender: HashMap<u64, (usize, u64)> = HashMap::new();
    let mut appends: HashMap<(usize, u64), Vec<u64>> = HashMap::new();
    for (index, record) in history.iter().enumerate() {
        for operation in &record.operations {
            if let Operation::Append { key, element } = *operation {
                let earlier = appender.insert(element, (index, key));
                assert!(earlier.is_none(), "element {element} appended twice");
                appends.entry((index, key)).or_default().push(element);
            }
        }
    }
    let committed = |index: usize| history[index].committed();
    let mut reads: Vec<(usize, u64, &[u64])> = Vec::new();
    for (index, record) in history.iter().enumerate() {
        if !record.committed() {
            continue;
        }
        // What the transaction must see of its own reads and appends of a key:
        // a whole list after a read, else at least its appends at the end.
        let mut expected: HashMap<u64, (bool, Vec<u64>)> = HashMap::new();
        for operation in &record.operations {
            match operation {
                Operation::Append { key, element } => {
                    expected.entry(*key).or_default().1.push(*element);
                }
                Operation::Read { key, observed } => {
                    reads.push((index, *key, observed));
                    if let Some((whole, list)) = expected.get(key)
                        && !(observed.ends_with(list) && (!whole || observed.len() == list.len()))
                    {
                        let shown = show_list(list);
                        let text =
                            format!("key {key} should be {shown}: {}", describe(history, index));
                        report("internal", text);
                    }
                    expected.insert(*key, (true, observed.clone()));
                }
            }
        }
    }
    for &(reader, key, list) in &reads {
        let mut seen = HashSet::new();
        for element in list {
            let text = |what: &str| {
                format!(
                    "{what} {element} in key {key}: {}",
                    describe(history, reader)
                )
            };
            match appender.get(element) {
                _ if !seen.insert(element) => report("duplicate", text("element")),
                Some(&(writer, written)) if written == key && !committed(writer) => {
                    report("G1a", text("aborted element")) // An aborted append.
                }
                Some(&(_, written)) if written == key => {}
                _ => report("garbage", text("never appended element")),
            }
        }
        if let Some(last) = list.last()
            && let Some(&(writer, _)) = appender.get(last)
            && writer != reader
            && appends
                .get(&(writer, key))
                .is_some_and(|own| own.last() != Some(last))
        {
            let text = format!(
                "read ends inside a transaction's appends to key {key}:\n  {}\n  {}",
                describe(history, reader),
                describe(history, writer)
            );
            report("G1b", text);
        }
    }
    // Version orders: each key's longest observed list.
    let mut orders: BTreeMap<u64, &[u64]> = BTreeMap::new();
    for &(_, key, list) in &reads {
        let longest = orders.entry(key).or_default();
        if list.len() > longest.len() {
            *longest = list;
        }
    }
    for &(reader, key, list) in &reads {
        if !orders[&key].starts_with(list) {
            let text = format!(
                "key {key} read as {} is no prefix of {}: {}",
                show_list(list),
                show_list(orders[&key]),
                describe(history, reader)
            );
            report("incompatible order", text);
        }
    }
    for (&(writer, key), elements) in appends.iter().filter(|((writer, _), _)| committed(*writer)) {
        let order = orders.get(&key).copied().unwrap_or_default();
        let positions: Vec<Option<usize>> = elements
            .iter()
            .map(|element| order.iter().position(|found| found == element))
            .collect();
        if positions.contains(&None) {
            let (shown, transaction) = (show_list(order), describe(history, writer));
            let text = format!("key {key}, finally {shown}, misses an append of {transaction}");
            report("lost update", text);
        } else if !positions.is_sorted() {
            let text = format!(
                "key {key} has appends out of order: {}",
                describe(history, writer)
            );
            report("internal", text);
        }
    }
    // Dependencies between committed transactions.
    let mut graph = Graph {
        edges: vec![BTreeMap::new(); history.len()],
    };
    let writer = |element: &u64| {
        appender
            .get(element)
            .map(|&(index, _)| index)
            .filter(|&index| committed(index))
    };
    for (&key, order) in &orders {
        for pair in order.windows(2) {
            if let (Some(first), Some(second)) = (writer(&pair[0]), writer(&pair[1])) {
                graph.add(first, second, WW, key);
            }
        }
    }
    for &(reader, key, list) in &reads {
        if let Some(last) = list.last().and_then(writer) {
            graph.add(last, reader, WR, key);
        }
        let order = orders[&key];
        if order.starts_with(list)
            && let Some(next) = order.get(list.len()).and_then(writer)
        {
            graph.add(reader, next, RW, key);
        }
    }
    for edges in &graph.edges {
        for edge in edges.values() {
            for (slot, (kind, _)) in KINDS.iter().enumerate() {
                analysis.edge_counts[slot] += usize::from(edge.kinds & kind != 0);
            }
        }
    }
    // Cycles: the worst one of each strongly connected component.
    let nodes: Vec<usize> = (0..history.len()).collect();
    for component in components(&graph, &nodes, WW | WR | RW) {
        let cycle = cycle_within(&graph, &component, WW)
            .or_else(|| cycle_within(&graph, &component, WW | WR))
            .or_else(|| single_antidependency_cycle(&graph, &component))
            .or_else(|| cycle_within(&graph, &component, WW | WR | RW))
            .expect("a strongly connected component has a cycle");
        let text = describe_cycle(history, &graph, &cycle);
        analysis.anomalies.push((classify(&cycle), text));
    }
    analysis
}

// ---------------------------------------------------------------- tests

#[derive(Clone, Copy, Debug)]
enum Storage {
    Memory,
    BTree,
}

/// Runs seeds 1..=`seeds` (or, with `BASALT_CHECKER_SECONDS`, seeds for that
/// long) and asserts what `level` promises.
fn check_runs(level: IsolationLevel, storage: Storage, seeds: u64) {
    let soak = std::env::var("BASALT_CHECKER_SECONDS").ok().map(|seconds| {
        seconds
            .parse::<u64>()
            .expect("BASALT_CHECKER_SECONDS is a number")
    });
    let started = Instant::now();
    let mut seed = 1;
    while match soak {
        Some(seconds) => seed == 1 || started.elapsed() < Duration::from_secs(seconds),
        None => seed <= seeds,
    } {
        let run_started = Instant::now();
        let directory = tempfile::tempdir().expect("temporary directory");
        let engine: Arc<dyn Engine> = match storage {
            Storage::Memory => Arc::new(MemoryEngine::new()),
            Storage::BTree => {
                let config = Config::new(directory.path());
                Arc::new(BTreeEngine::open(&config).expect("open btree engine"))
            }
        };
        let history = run(engine, level, seed);
        let analysis = check(&history);
        let mut aborted: BTreeMap<&str, usize> = BTreeMap::new();
        let mut found: BTreeMap<&str, usize> = BTreeMap::new();
        history
            .iter()
            .filter_map(|record| record.failure)
            .for_each(|code| *aborted.entry(code).or_default() += 1);
        for (kind, _) in &analysis.anomalies {
            *found.entry(kind).or_default() += 1;
        }
        let cycles: Vec<String> = CYCLE_KINDS
            .iter()
            .map(|kind| format!("{kind} {}", found.remove(kind).unwrap_or(0)))
            .collect();
        let [ww, wr, rw] = analysis.edge_counts;
        println!(
            "list-append {} {storage:?} seed {seed}: {} committed, aborted {aborted:?}, \
             edges ww {ww} wr {wr} rw {rw}, cycles {}, other anomalies {found:?}, {:.2} s",
            level.name(),
            history.iter().filter(|record| record.committed()).count(),
            cycles.join(", "),
            run_started.elapsed().as_secs_f64()
        );
        let unexpected = aborted.keys().find(|code| !EXPECTED_CODES.contains(code));
        assert!(
            unexpected.is_none(),
            "seed {seed}: unexpected error {unexpected:?}"
        );
        let allowed: &[&str] = match level {
            IsolationLevel::Serializable => &[],
            // Snapshot isolation allows write skew (two or more rw edges),
            // never a cycle with a single rw edge (Fekete et al. 2005).
            _ => &["G2-item"],
        };
        // The first anomaly of each forbidden kind, with its count.
        let mut forbidden: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        for (kind, text) in &analysis.anomalies {
            if !allowed.contains(kind) {
                forbidden.entry(kind).or_insert((0, text)).0 += 1;
            }
        }
        let examples: Vec<String> = forbidden
            .iter()
            .map(|(kind, (count, text))| format!("{count} × {kind}, the first:\n{text}"))
            .collect();
        assert!(
            forbidden.is_empty(),
            "{} {storage:?} seed {seed}:\n{}",
            level.name(),
            examples.join("\n\n")
        );
        seed += 1;
    }
}

#[test]
fn serializable_histories_have_no_anomalies() {
    check_runs(IsolationLevel::Serializable, Storage::Memory, 5);
}

#[test]
fn repeatable_read_histories_have_only_write_skew_cycles() {
    check_runs(IsolationLevel::RepeatableRead, Storage::Memory, 5);
}

#[test]
fn serializable_histories_on_the_btree_engine_have_no_anomalies() {
    check_runs(IsolationLevel::Serializable, Storage::BTree, 3);
}

// ------------------------------------------------- the checker's own tests

fn read(key: u64, observed: &[u64]) -> Operation {
    let observed = observed.to_vec();
    Operation::Read { key, observed }
}

fn append(key: u64, element: u64) -> Operation {
    Operation::Append { key, element }
}

fn transaction(operations: Vec<Operation>) -> Record {
    Record {
        operations,
        ..Record::new(0, 0)
    }
}

fn kinds(history: &[Record]) -> Vec<&'static str> {
    check(history)
        .anomalies
        .iter()
        .map(|(kind, _)| *kind)
        .collect()
}

#[test]
fn checker_accepts_a_serial_history() {
    let history = [
        transaction(vec![append(0, 1), read(1, &[])]),
        transaction(vec![read(0, &[1]), append(0, 2), append(1, 3)]),
        transaction(vec![read(0, &[1, 2]), read(1, &[3])]),
    ];
    let analysis = check(&history);
    assert!(analysis.anomalies.is_empty(), "{:?}", analysis.anomalies);
    assert_eq!(analysis.edge_counts, [1, 2, 1], "ww, wr, rw");
}

#[test]
fn checker_finds_write_skew_and_read_skew() {
    // Each reads the key the other appends to, seeing it empty.
    let write_skew = [
        transaction(vec![read(0, &[]), append(1, 1)]),
        transaction(vec![read(1, &[]), append(0, 2)]),
        transaction(vec![read(0, &[2]), read(1, &[1])]),
    ];
    assert_eq!(kinds(&write_skew), ["G2-item"]);
    // The reader misses the append to key 0 but sees the one to key 1.
    let read_skew = [
        transaction(vec![read(0, &[]), read(1, &[2])]),
        transaction(vec![append(0, 1), append(1, 2)]),
        transaction(vec![read(0, &[1]), read(1, &[2])]),
    ];
    let analysis = check(&read_skew);
    assert_eq!(analysis.anomalies.len(), 1);
    let (kind, text) = &analysis.anomalies[0];
    assert_eq!(*kind, "G-single");
    assert!(
        text.contains("--rw on key 0--> T1") && text.contains("--wr on key 1--> T0"),
        "{text}"
    );
}

#[test]
fn checker_finds_circular_information_flow_and_write_cycles() {
    let g1c = [
        transaction(vec![append(0, 1), read(1, &[2])]),
        transaction(vec![append(1, 2), read(0, &[1])]),
    ];
    assert_eq!(kinds(&g1c), ["G1c"]);
    let g0 = [
        transaction(vec![append(0, 1), append(1, 2)]),
        transaction(vec![append(0, 3), append(1, 4)]),
        transaction(vec![read(0, &[1, 3]), read(1, &[4, 2])]),
    ];
    assert_eq!(kinds(&g0), ["G0"]);
}

#[test]
fn checker_finds_lost_updates_and_incompatible_orders() {
    // Both read the empty list and append: the final list lacks one append.
    let history = [
        transaction(vec![read(0, &[]), append(0, 1)]),
        transaction(vec![read(0, &[]), append(0, 2)]),
        transaction(vec![read(0, &[1])]),
        transaction(vec![read(0, &[2])]),
    ];
    let found = kinds(&history);
    assert!(found.contains(&"incompatible order"), "{found:?}");
    assert!(found.contains(&"lost update"), "{found:?}");
}

#[test]
fn checker_finds_aborted_and_intermediate_reads() {
    let mut aborted = transaction(vec![append(0, 1)]);
    aborted.failure = Some("40001");
    let g1a = [aborted, transaction(vec![read(0, &[1])])];
    assert_eq!(kinds(&g1a), ["G1a"]);
    let g1b = [
        transaction(vec![append(0, 1), append(0, 2)]),
        transaction(vec![read(0, &[1])]),
        transaction(vec![read(0, &[1, 2])]),
    ];
    assert!(kinds(&g1b).contains(&"G1b"), "{:?}", kinds(&g1b));
}
