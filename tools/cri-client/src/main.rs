//! cri-client: the calls kubelet makes to a CRI runtime (containerd), for podnet's client
//! tests. crictl is not packaged in Debian 12, hence this tool.
//!
//! ```text
//! cri-client [--socket PATH] [--state-dir DIR] COMMAND ...
//!   version | status | images | pods
//!   runp --name N [--namespace NS] [--uid U] [--hostname H] [--port [IP:]HOST:CTR[/PROTO]]...
//!        [--cgroup-parent P] [--label K=V]... [--annotation K=V]... [--log-dir D]  -> pod id
//!   podip POD | inspectp POD | stopp POD | rmp POD
//!   create POD --name C --image I [--] CMD...  -> container id    (run = create + start)
//!   start CID | stop CID | rm CID | inspect CID
//!   exec [--timeout S] CID [--] CMD...   (ExecSync: its stdout/stderr, exits with its code)
//! ```
//! `--socket` defaults to `$CRI_SOCKET`, else `/run/containerd/containerd.sock`; the state
//! dir (pod configs kept for CreateContainer) to `/run/cri-client`.

mod args;
mod pod;

use args::Args;
use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use std::path::PathBuf;
use tonic::transport::{Channel, Endpoint, Uri};

type Res<T> = Result<T, String>;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(argv)) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("cri-client: {e}");
            std::process::exit(1);
        }
    }
}

struct Ctx {
    socket: String,
    state: PathBuf,
}

async fn run(argv: Vec<String>) -> Res<i32> {
    // Global flags come before the command.
    let mut i = 0;
    let mut socket = std::env::var("CRI_SOCKET")
        .unwrap_or_else(|_| "/run/containerd/containerd.sock".to_string());
    let mut state = PathBuf::from("/run/cri-client");
    while i + 1 < argv.len() && argv[i].starts_with("--") {
        match argv[i].as_str() {
            "--socket" => socket = argv[i + 1].clone(),
            "--state-dir" => state = PathBuf::from(&argv[i + 1]),
            f => return Err(format!("unknown global flag {f}")),
        }
        i += 2;
    }
    let Some(cmd) = argv.get(i) else {
        return Err("missing command (see the source's header for usage)".into());
    };
    let rest = &argv[i + 1..];
    let ctx = Ctx { socket, state };
    let ch = channel(&ctx.socket).await?;
    let mut rt = RuntimeServiceClient::new(ch.clone());
    let mut img = ImageServiceClient::new(ch);
    match cmd.as_str() {
        "version" => {
            let v = rt
                .version(VersionRequest {
                    version: "v1".into(),
                })
                .await
                .map_err(|e| rpc("Version", e))?
                .into_inner();
            println!(
                "{} {} {}",
                v.runtime_name, v.runtime_version, v.runtime_api_version
            );
        }
        "status" => {
            let s = rt
                .status(StatusRequest { verbose: false })
                .await
                .map_err(|e| rpc("Status", e))?
                .into_inner();
            println!("{}", json(&s.status)?);
        }
        "images" => {
            let list = img
                .list_images(ListImagesRequest { filter: None })
                .await
                .map_err(|e| rpc("ListImages", e))?
                .into_inner();
            for i in list.images {
                println!("{} {}", i.id, i.repo_tags.join(","));
            }
        }
        "pods" => {
            let list = rt
                .list_pod_sandbox(ListPodSandboxRequest { filter: None })
                .await
                .map_err(|e| rpc("ListPodSandbox", e))?
                .into_inner();
            for p in list.items {
                let m = p.metadata.unwrap_or_default();
                let state = PodSandboxState::try_from(p.state)
                    .map(|s| s.as_str_name())
                    .unwrap_or("?");
                println!("{} {}/{} {}", p.id, m.namespace, m.name, state);
            }
        }
        "runp" => {
            let a = Args::parse(rest, 0)?;
            a.only(pod::FLAGS)?;
            if !a.rest.is_empty() {
                return Err(format!("runp: unexpected {:?}", a.rest));
            }
            let cfg = pod::from_args(&a)?;
            let id = rt
                .run_pod_sandbox(RunPodSandboxRequest {
                    config: Some(cfg.clone()),
                    runtime_handler: String::new(),
                })
                .await
                .map_err(|e| rpc("RunPodSandbox", e))?
                .into_inner()
                .pod_sandbox_id;
            pod::save(&ctx.state, &id, &cfg)?;
            println!("{id}");
        }
        "podip" | "inspectp" => {
            let a = Args::parse(rest, 1)?;
            let id = a.pos(0, "POD")?.to_string();
            let s = rt
                .pod_sandbox_status(PodSandboxStatusRequest {
                    pod_sandbox_id: id,
                    verbose: false,
                })
                .await
                .map_err(|e| rpc("PodSandboxStatus", e))?
                .into_inner();
            if cmd == "inspectp" {
                println!("{}", json(&s.status)?);
            } else {
                let net = s.status.and_then(|s| s.network).unwrap_or_default();
                if net.ip.is_empty() {
                    return Err("the pod has no IP (did CNI ADD run?)".into());
                }
                println!("{}", net.ip);
                for extra in net.additional_ips {
                    println!("{}", extra.ip);
                }
            }
        }
        "stopp" => {
            let id = Args::parse(rest, 1)?.pos(0, "POD")?.to_string();
            rt.stop_pod_sandbox(StopPodSandboxRequest { pod_sandbox_id: id })
                .await
                .map_err(|e| rpc("StopPodSandbox", e))?;
        }
        "rmp" => {
            let id = Args::parse(rest, 1)?.pos(0, "POD")?.to_string();
            rt.remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: id.clone(),
            })
            .await
            .map_err(|e| rpc("RemovePodSandbox", e))?;
            pod::forget(&ctx.state, &id);
        }
        "create" | "run" => {
            let a = Args::parse(rest, 1)?;
            a.only(&["name", "image"])?;
            let pod_id = a.pos(0, "POD")?.to_string();
            let cfg = ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: a.need("name")?.to_string(),
                    attempt: 0,
                }),
                image: Some(ImageSpec {
                    image: a.need("image")?.to_string(),
                    ..Default::default()
                }),
                command: a.rest[1..].to_vec(),
                log_path: format!("{}.log", a.need("name")?),
                ..Default::default()
            };
            let sandbox_config = pod::load(&ctx.state, &pod_id)?;
            let cid = rt
                .create_container(CreateContainerRequest {
                    pod_sandbox_id: pod_id,
                    config: Some(cfg),
                    sandbox_config: Some(sandbox_config),
                })
                .await
                .map_err(|e| rpc("CreateContainer", e))?
                .into_inner()
                .container_id;
            if cmd == "run" {
                start(&mut rt, &cid).await?;
            }
            println!("{cid}");
        }
        "start" => {
            let id = Args::parse(rest, 1)?.pos(0, "CONTAINER")?.to_string();
            start(&mut rt, &id).await?;
        }
        "stop" => {
            let a = Args::parse(rest, 1)?;
            a.only(&["timeout"])?;
            rt.stop_container(StopContainerRequest {
                container_id: a.pos(0, "CONTAINER")?.to_string(),
                timeout: secs(&a)?.unwrap_or(0),
            })
            .await
            .map_err(|e| rpc("StopContainer", e))?;
        }
        "rm" => {
            let id = Args::parse(rest, 1)?.pos(0, "CONTAINER")?.to_string();
            rt.remove_container(RemoveContainerRequest { container_id: id })
                .await
                .map_err(|e| rpc("RemoveContainer", e))?;
        }
        "inspect" => {
            let id = Args::parse(rest, 1)?.pos(0, "CONTAINER")?.to_string();
            let s = rt
                .container_status(ContainerStatusRequest {
                    container_id: id,
                    verbose: false,
                })
                .await
                .map_err(|e| rpc("ContainerStatus", e))?
                .into_inner();
            println!("{}", json(&s.status)?);
        }
        "exec" => {
            let a = Args::parse(rest, 1)?;
            a.only(&["timeout"])?;
            let id = a.pos(0, "CONTAINER")?.to_string();
            if a.rest.len() < 2 {
                return Err("exec: missing the command".into());
            }
            let r = rt
                .exec_sync(ExecSyncRequest {
                    container_id: id,
                    cmd: a.rest[1..].to_vec(),
                    timeout: secs(&a)?.unwrap_or(30),
                })
                .await
                .map_err(|e| rpc("ExecSync", e))?
                .into_inner();
            use std::io::Write;
            let _ = std::io::stdout().write_all(&r.stdout);
            let _ = std::io::stderr().write_all(&r.stderr);
            return Ok(r.exit_code);
        }
        c => return Err(format!("unknown command {c:?}")),
    }
    Ok(0)
}

async fn start(rt: &mut RuntimeServiceClient<Channel>, id: &str) -> Res<()> {
    rt.start_container(StartContainerRequest {
        container_id: id.to_string(),
    })
    .await
    .map_err(|e| rpc("StartContainer", e))?;
    Ok(())
}

fn secs(a: &Args) -> Res<Option<i64>> {
    a.get("timeout")
        .map(|s| s.parse().map_err(|_| format!("--timeout {s:?}")))
        .transpose()
}

fn json<T: serde::Serialize>(v: &T) -> Res<String> {
    serde_json::to_string_pretty(v).map_err(|e| e.to_string())
}

fn rpc(what: &str, e: tonic::Status) -> String {
    format!("{what}: {} ({:?})", e.message(), e.code())
}

async fn channel(socket: &str) -> Res<Channel> {
    let socket = socket.to_string();
    let what = socket.clone();
    // The URI is required by tonic but unused: every connection goes to the unix socket.
    Endpoint::try_from("http://[::]:50051")
        .map_err(|e| e.to_string())?
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let s = socket.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(s).await?))
            }
        }))
        .await
        .map_err(|e| format!("connect to {what}: {e}"))
}
