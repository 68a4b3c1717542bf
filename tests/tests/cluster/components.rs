//! A component installed on one node is served by every node: three
//! `serve` processes, a component written into one node's plugin folder,
//! then a new version into another's; a node that starts later gets the
//! cluster's current version.

use super::{DEADLINE, Node};
use openpista::cluster::Cluster;
use openpista_tests::{install, manifest, wasm, with_custom_section};
use std::path::Path;

/// A node with a plugin folder of its own and nothing else to serve.
fn plain_node(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "[agent]\nprovider = \"echo\"\n[runtime]\nplugin_dirs = [\"{d}/components\"]\ncache_dir = \"{d}/cache\"\n\
         [memory]\npath = \"{d}/memory.redb\"\n[server]\nenabled = false\n[channels.web]\nenabled = false\n"
    )
}

/// Waits until every node in `nodes` reports `legacy-tool` at `hash`.
async fn served_everywhere(watcher: &Cluster, nodes: &[&str], hash: &str) {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let status = openpista::cluster::nodes::status(watcher).await.unwrap();
        let serving = |name: &&str| {
            status.nodes.iter().any(|n| {
                n.node == *name
                    && n.components
                        .iter()
                        .any(|c| c.name == "legacy-tool" && c.hash == hash)
            })
        };
        if nodes.iter().all(serving) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "legacy-tool {hash} not on all of {nodes:?}: {status:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The hash the runtime gives `bytes` (hex SHA-256 of the WebAssembly).
fn hash_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex_lower(&sha2::Sha256::digest(bytes))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_installed_on_one_node_is_served_by_every_node() {
    let root = tempfile::tempdir().unwrap();
    let Some((server, watcher)) = super::server_and_watcher(root.path()).await else {
        return;
    };
    let a = Node::start(root.path(), "comp-a", &server.url(), plain_node);
    let b = Node::start(root.path(), "comp-b", &server.url(), plain_node);
    let original = std::fs::read(wasm("legacy-tool")).unwrap();

    let v1 = with_custom_section(&original, "v1");
    install(
        &a.dir.join("components"),
        "legacy-tool",
        &v1,
        &manifest("legacy-tool"),
    );
    served_everywhere(&watcher, &["comp-a", "comp-b"], &hash_of(&v1)).await;
    assert_eq!(
        std::fs::read(b.dir.join("components/legacy-tool.wasm")).unwrap(),
        v1
    );

    // The other way, with a new manifest too.
    let v2 = with_custom_section(&original, "v2");
    let manifest_v2 = manifest("legacy-tool").replace("0.1.0\"", "0.1.1\"");
    install(&b.dir.join("components"), "legacy-tool", &v2, &manifest_v2);
    served_everywhere(&watcher, &["comp-a", "comp-b"], &hash_of(&v2)).await;
    assert_eq!(
        std::fs::read_to_string(a.dir.join("components/legacy-tool.toml")).unwrap(),
        manifest_v2
    );

    // A node that joins later starts with what the cluster serves, even
    // with an older copy of its own.
    let c_dir = root.path().join("comp-c");
    install(
        &c_dir.join("components"),
        "legacy-tool",
        &v1,
        &manifest("legacy-tool"),
    );
    let c = Node::start(root.path(), "comp-c", &server.url(), plain_node);
    served_everywhere(&watcher, &["comp-a", "comp-b", "comp-c"], &hash_of(&v2)).await;
    let status = c.status();
    let versions: Vec<&str> = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| n["components"].as_array().unwrap())
        .filter(|c| c["name"] == "legacy-tool")
        .map(|c| c["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["0.1.1"; 3], "{status}");
    // `component list` says the same, a line per node.
    let listed = c.run(&["component", "list"]);
    let short = &hash_of(&v2)[..12];
    for node in ["comp-a", "comp-b", "comp-c"] {
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(&format!("node {node}"))
                    && l.contains("legacy-tool")
                    && l.contains("0.1.1")
                    && l.contains(short)),
            "{node} missing from:\n{listed}"
        );
    }
}
