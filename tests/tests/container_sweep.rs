//! What a killed host leaves behind on the real Docker engine: the next
//! task sweeps the containers of hosts of this machine that are gone (an
//! ended one, a running one past its deadline) and spares a running one
//! within its deadline (its worker may still report) and those of a host
//! that lives.
//!
//! A binary of its own: every task sweeps, so a task of another test in
//! the same process could see a planted container between its creation
//! and its start, and take it for an ended one.

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use openpista::native::container::{Containers, TaskRequest, docker::machine};
use openpista::native::env::EnvScrub;
use openpista::native::settings::ContainerSettings;
use openpista_tests::native::docker::{IMAGE, engine};
use std::collections::HashMap;

/// Creates (and with `run`, starts) a container labelled as made by host
/// `host` of this machine, with deadline `deadline` (unix seconds).
async fn planted(docker: &Docker, name: &str, host: &str, deadline: u64, run: bool) {
    let labels = HashMap::from([
        ("openpista.task".to_string(), name.to_string()),
        ("openpista.host".to_string(), host.to_string()),
        ("openpista.machine".to_string(), machine()),
        ("openpista.deadline".to_string(), deadline.to_string()),
    ]);
    let body = ContainerCreateBody {
        image: Some(IMAGE.into()),
        cmd: Some(vec!["sleep".into(), "60".into()]),
        labels: Some(labels),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    docker.create_container(Some(options), body).await.unwrap();
    if run {
        docker.start_container(name, None).await.unwrap();
    }
}

#[tokio::test]
async fn a_task_sweeps_what_dead_hosts_left_and_spares_the_rest() {
    let Some(docker) = engine().await else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let tag = format!("{}-{}", std::process::id(), now % 100_000);
    // No process has a pid this large (the kernel's maximum is 2^22).
    let dead = "999999999-0badc0de";
    let alive = format!("{}-live", std::process::id());
    // (name, host, deadline, running, swept)
    let planted_ones = [
        (format!("orphan-ended-{tag}"), dead, now + 600, false, true),
        (
            format!("orphan-working-{tag}"),
            dead,
            now + 600,
            true,
            false,
        ),
        (
            format!("orphan-overdue-{tag}"),
            dead,
            now.saturating_sub(5),
            true,
            true,
        ),
        (
            format!("living-host-{tag}"),
            alive.as_str(),
            now.saturating_sub(5),
            false,
            false,
        ),
    ];
    for (name, host, deadline, run, _) in &planted_ones {
        planted(&docker, name, host, *deadline, *run).await;
    }
    let workspace = tempfile::tempdir().unwrap();
    let containers = Containers::new(
        ContainerSettings {
            image: IMAGE.into(),
            timeout_secs: 60,
            ..ContainerSettings::default()
        },
        EnvScrub::default(),
        workspace.path().to_path_buf(),
    );
    let outcome = containers
        .run_task(TaskRequest {
            command: "echo swept".into(),
            ..TaskRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(outcome.exit_code, Some(0), "{outcome:?}");
    let mut wrong = Vec::new();
    for (name, _, _, _, swept) in &planted_ones {
        let gone = docker.inspect_container(name, None).await.is_err();
        if gone != *swept {
            wrong.push(format!("{name}: removed {gone}, expected {swept}"));
        }
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        let _ = docker.remove_container(name, Some(options)).await;
    }
    assert!(wrong.is_empty(), "{wrong:?}");
}
