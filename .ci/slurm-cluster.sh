#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine (as root), for the Slurm integration test.
# Debian packages slurm-wlm and munge; configuration as in docs/workflow.md (no slurmdbd: the workflow
# is run with --slurm-status-command squeue). Idempotent: does nothing when the node is up.
set -euo pipefail

if ! command -v slurmctld >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
if sinfo -h -o %T 2>/dev/null | grep -q idle; then
  exit 0
fi
node_line=$(slurmd -C | head -1)
node=$(echo "$node_line" | sed -E 's/NodeName=([^ ]+).*/\1/')
mem=$(echo "$node_line" | sed -E 's/.*RealMemory=([0-9]+).*/\1/')
cpus=$(echo "$node_line" | sed -E 's/.*CPUs=([0-9]+).*/\1/')
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=phl-ci
SlurmctldHost=${node}
AuthType=auth/munge
SlurmUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=${node} CPUs=${cpus} RealMemory=$((mem - 1024)) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
[ -s /etc/munge/munge.key ] || mungekey --create 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
chown -R munge:munge /etc/munge /run/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || munged --force
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 60); do
  if sinfo -h -o %T 2>/dev/null | grep -q idle; then
    sinfo
    exit 0
  fi
  scontrol update nodename="${node}" state=resume >/dev/null 2>&1 || true
  sleep 1
done
echo "slurm-cluster: the node did not come up; see /var/log/slurm/" >&2
exit 1
