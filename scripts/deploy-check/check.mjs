// Checks what ships for deployment, as a reviewer would, with tools from the npm registry:
//   deploy/kubernetes/*.yaml  against the Kubernetes API schemas (kubernetes-models) and the Pod Security
//                             "restricted" rules, plus this project's own rules (probes, services, PDB, grace);
//   Dockerfile                with dockerfile-utils (the linter behind VS Code's Docker support) and our rules;
//   docker-compose.yml        ports on loopback only, pinned images.
// Prints one line per check and "deploy check: N passed, M failed"; exits 1 on any failure.
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, parse } from "yaml";
import { validate as validateDockerfile } from "dockerfile-utils";
import { Service } from "kubernetes-models/v1/Service";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const read = (p) => readFileSync(join(root, p), "utf8");
let passed = 0, failed = 0;
function check(name, fn) {
  try {
    const problem = fn();
    if (problem) throw new Error(problem);
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

// ---- Kubernetes -----------------------------------------------------------------------------
const models = { Service, StatefulSet, PodDisruptionBudget };
const docs = [];
for (const file of readdirSync(join(root, "deploy/kubernetes")).filter((f) => /\.ya?ml$/.test(f))) {
  for (const doc of parseAllDocuments(read(`deploy/kubernetes/${file}`))) {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
    const obj = doc.toJS();
    if (obj) docs.push({ file, obj });
  }
}
for (const { file, obj } of docs) {
  check(`${file}: ${obj.kind}/${obj.metadata?.name} matches the Kubernetes API schema`, () => {
    const Model = models[obj.kind];
    if (!Model) return `no schema for kind ${obj.kind} here; add it to check.mjs`;
    new Model(obj).validate();
  });
}
const of = (kind) => docs.map((d) => d.obj).filter((o) => o.kind === kind);
const sts = of("StatefulSet")[0];
const services = of("Service");
const selects = (selector, labels) => Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
check("a StatefulSet runs the service", () => (sts ? null : "no StatefulSet"));
const pod = sts?.spec?.template?.spec ?? {};
const podLabels = sts?.spec?.template?.metadata?.labels;
const container = (pod.containers ?? [])[0] ?? {};

check("StatefulSet.serviceName names a headless Service (clusterIP: None) selecting its pods", () => {
  const s = services.find((x) => x.metadata.name === sts.spec.serviceName);
  if (!s) return `no Service named ${sts.spec.serviceName}`;
  if (s.spec.clusterIP !== "None") return `${s.metadata.name} is not headless`;
  if (!selects(s.spec.selector, podLabels)) return `${s.metadata.name} does not select the pods`;
});
check("a normal (non-headless) Service for clients selects the pods and exposes gRPC", () => {
  const s = services.find((x) => x.spec.clusterIP !== "None" && selects(x.spec.selector, podLabels));
  if (!s) return "none";
  if (!s.spec.ports.some((p) => p.targetPort === "grpc" || p.port === 5000)) return "no gRPC port";
});

// Pod Security Standards, "restricted" profile (v1.x): every rule that applies to this pod.
check("Pod Security restricted: pod level (runAsNonRoot, seccomp RuntimeDefault, no host namespaces)", () => {
  const sc = pod.securityContext ?? {};
  if (sc.runAsNonRoot !== true) return "securityContext.runAsNonRoot must be true";
  if (sc.runAsUser === 0) return "runAsUser 0";
  if (sc.seccompProfile?.type !== "RuntimeDefault" && sc.seccompProfile?.type !== "Localhost") return "seccompProfile must be RuntimeDefault";
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) return "host namespaces";
  const hostPath = (pod.volumes ?? []).find((v) => v.hostPath);
  if (hostPath) return `hostPath volume ${hostPath.name}`;
});
for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
  check(`Pod Security restricted: container ${c.name} (no escalation, drop ALL, read-only root, not privileged)`, () => {
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false) return "allowPrivilegeEscalation must be false";
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) return "capabilities.drop must include ALL";
    const added = (sc.capabilities?.add ?? []).filter((x) => x !== "NET_BIND_SERVICE");
    if (added.length) return `capabilities.add ${added}`;
    if (sc.privileged) return "privileged";
    if (sc.readOnlyRootFilesystem !== true) return "readOnlyRootFilesystem must be true";
    if (sc.runAsUser === 0) return "runAsUser 0";
    if (sc.seccompProfile && sc.seccompProfile.type === "Unconfined") return "seccomp Unconfined";
    if ((c.ports ?? []).some((p) => p.hostPort)) return "hostPort";
  });
}
check("a writable emptyDir is mounted at /tmp (the root filesystem is read-only)", () => {
  const m = (container.volumeMounts ?? []).find((v) => v.mountPath === "/tmp");
  if (!m) return "nothing mounted at /tmp";
  if (!(pod.volumes ?? []).some((v) => v.name === m.name && v.emptyDir)) return `${m.name} is not an emptyDir`;
});

// Probes: the services the binary serves (HealthSetup.cs constants), liveness apart from readiness.
const host = read("ReadStates/Hosting/HealthSetup.cs");
const constant = (name) => (host.match(new RegExp(`${name}\\s*=\\s*"([^"]+)"`)) ?? [])[1];
const liveness = constant("LivenessService"), readiness = constant("ReadinessService");
check("the binary names its health services (LivenessService, ReadinessService)", () => (liveness && readiness ? null : "constants not found"));
check("startup, liveness and readiness probes are gRPC probes of the right services", () => {
  const { startupProbe: s, livenessProbe: l, readinessProbe: r } = container;
  if (!s || !l || !r) return "startupProbe, livenessProbe and readinessProbe are all needed";
  if (l.grpc?.service !== liveness) return `livenessProbe must ask service "${liveness}"`;
  if (r.grpc?.service !== readiness) return `readinessProbe must ask service "${readiness}"`;
  if (s.grpc?.service !== liveness) return `startupProbe must ask service "${liveness}"`;
  if (JSON.stringify(l) === JSON.stringify(r)) return "liveness is the readiness probe";
});
check("the image has a pinned tag or digest, never :latest", () => {
  const image = container.image ?? "";
  if (image.includes("@sha256:")) return null;
  const tag = image.split("/").pop().split(":")[1];
  if (!tag || tag === "latest") return `image ${image} is not pinned`;
});
check("a PodDisruptionBudget with maxUnavailable 1 covers the pods", () => {
  const pdb = of("PodDisruptionBudget").find((p) => selects(p.spec.selector?.matchLabels, podLabels));
  if (!pdb) return "no PodDisruptionBudget selects the pods";
  if (pdb.spec.maxUnavailable !== 1) return `maxUnavailable is ${pdb.spec.maxUnavailable}`;
});
// A duration as the service reads it: 500ms, 5s, 1m, 2h, 1d, or hh:mm:ss (README, Configuration).
function seconds(value) {
  const unit = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(String(value).trim());
  if (unit) return Number(unit[1]) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[unit[2]];
  const parts = String(value).split(":").map(Number);
  return parts.length === 3 && parts.every((p) => p >= 0) ? parts[0] * 3600 + parts[1] * 60 + parts[2] : NaN;
}
check("terminationGracePeriodSeconds covers Service:DrainTimeout + Engine:ShutdownFlushTimeout", () => {
  const json = JSON.parse(read("ReadStates/appsettings.json"));
  const setting = (name, fallback) => (container.env ?? []).find((e) => e.name === name)?.value ?? fallback;
  const flush = seconds(setting("ReadStates__Engine__ShutdownFlushTimeout", json.Engine.ShutdownFlushTimeout));
  const drain = seconds(setting("ReadStates__Service__DrainTimeout", json.Service.DrainTimeout));
  if (!(flush > 0)) return "cannot read Engine:ShutdownFlushTimeout";
  if (!(drain >= 0)) return "cannot read Service:DrainTimeout";
  if (!(pod.terminationGracePeriodSeconds >= drain + flush)) return `grace ${pod.terminationGracePeriodSeconds} s < ${drain} + ${flush} s`;
});

// ---- Dockerfile ---------------------------------------------------------------------------
const dockerfile = read("Dockerfile");
check("Dockerfile passes dockerfile-utils' validator with no errors or warnings", () => {
  const diagnostics = validateDockerfile(dockerfile);
  if (diagnostics.length) return diagnostics.map((d) => `line ${d.range.start.line + 1}: ${d.message}`).join("; ");
});
const instructions = dockerfile.replace(/\\\n/g, " ").split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
const finalStage = instructions.slice(instructions.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true));
check("Dockerfile: a HEALTHCHECK that runs the binary's own probe", () => {
  const hc = finalStage.find((l) => /^HEALTHCHECK\s/i.test(l));
  if (!hc) return "no HEALTHCHECK in the final stage";
  if (!/"probe"/.test(hc)) return "HEALTHCHECK does not run `ReadStates.dll probe`";
  if (!/"--service",\s*"(liveness|readiness)"/.test(hc)) return "HEALTHCHECK names no health service";
});
check("Dockerfile: linux-x64 only (RID-specific restore and publish, not self-contained)", () => {
  if (!instructions.some((l) => /dotnet restore .*-r linux-x64/.test(l))) return "restore is not -r linux-x64";
  const publish = instructions.find((l) => /dotnet publish/.test(l)) ?? "";
  if (!/-r linux-x64/.test(publish) || !/--self-contained false/.test(publish)) return "publish is not -r linux-x64 --self-contained false";
});
check("Dockerfile: the final stage runs as a non-root user; no :latest base", () => {
  const user = finalStage.filter((l) => /^USER\s/i.test(l)).pop();
  if (!user || /^USER\s+(root|0)(\s|:|$)/i.test(user)) return "final stage runs as root";
  const latest = instructions.find((l) => /^FROM\s+\S+:latest/i.test(l));
  if (latest) return latest;
});

// ---- docker-compose.yml -------------------------------------------------------------------
const compose = parse(read("docker-compose.yml"));
check("docker-compose.yml: every published port is bound to 127.0.0.1; no :latest image", () => {
  for (const [name, svc] of Object.entries(compose.services ?? {})) {
    for (const p of svc.ports ?? []) {
      const spec = typeof p === "string" ? p : `${p.host_ip ?? ""}:${p.published}:${p.target}`;
      if (!spec.startsWith("127.0.0.1:")) return `${name} publishes ${spec} beyond loopback`;
    }
    if (/:latest$/.test(svc.image ?? "")) return `${name} uses ${svc.image}`;
  }
});

console.log(`deploy check: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
