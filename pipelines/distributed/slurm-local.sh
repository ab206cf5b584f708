# slurm-local.sh: a one-node Slurm cluster on this machine, for the tests of
# slurm-train.sh (and for trying it by hand).  Source it (bash).  Everything
# lives in one directory: a munge key and socket, a generated slurm.conf, the
# state and spool directories, the logs and pid files; nothing under /etc,
# /run or /var is used or changed.  Needs root (SlurmUser is root) and the
# Debian packages munge, slurmctld, slurmd and slurm-client.
#
#   VT_SLURM=DIR             the cluster's directory (a short path is best:
#                            it holds the munge socket)
#   vtslurm_setup            key, config, daemons up; 0 once a job has run,
#                            or 1 with the reason on stderr
#   vtslurm_teardown         every daemon down, by pid
#   vtslurm_slurmd           (re)start slurmd alone: 0 once the node is idle
#   vtslurm_env              prints the exports that make sbatch, squeue, ...
#                            use the cluster (SLURM_CONF)
#
# The node is this machine under its own name (hostname -s), with
# VT_SLURM_CPUS CPUs (default 4, whatever the machine has: the configuration
# overrides what slurmd finds, so that a test's small array tasks run at
# once).  The ports are free ports chosen at setup.  The scheduler starts a
# job as soon as it can (batch_sched_delay=0): a chain of jobs costs a
# fraction of a second per link instead of seconds.  A slurmd that stops
# answering marks the node down after VT_SLURM_TIMEOUT seconds (default 10;
# SlurmdTimeout), and its jobs fail (NODE_FAIL).

vtslurm_die() {
	echo "slurm-local: $*" >&2
	return 1
}

# vtslurm_free_port: a TCP port that nothing listens on (from /proc/net/tcp*).
vtslurm_free_port() {
	local p used
	used=$(awk 'NR > 1 {split($2, a, ":"); print strtonum("0x" a[2])}' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		grep -qx "$p" <<<"$used" || { echo "$p"; return 0; }
	done
	return 1
}

vtslurm_setup() {
	local d=${VT_SLURM:?set VT_SLURM} p node cpus
	for p in munged slurmctld slurmd sbatch squeue scontrol; do
		command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] ||
			{ vtslurm_die "no $p (Debian: munge slurmctld slurmd slurm-client)"; return 1; }
	done
	[ "$(id -u)" = 0 ] || { vtslurm_die "needs root (the cluster's SlurmUser is root)"; return 1; }
	mkdir -p "$d/state" "$d/spool" "$d/munge" || return 1
	chmod 700 "$d/munge"
	# munged wants a key of 0600 or 0400, owned by its user, in a directory
	# that others cannot write to.
	dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none || return 1
	chmod 400 "$d/munge/munge.key"
	/usr/sbin/munged --force --key-file="$d/munge/munge.key" --socket="$d/munge/sock" \
		--pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" \
		--seed-file="$d/munge/seed" </dev/null >"$d/munge/start.log" 2>&1 ||
		{ vtslurm_die "munged did not start: $(cat "$d/munge/start.log" "$d/munge/munged.log" 2>/dev/null)"; return 1; }

	node=$(hostname -s)
	cpus=${VT_SLURM_CPUS:-4}
	cat >"$d/slurm.conf" <<-EOF
		ClusterName=vtlocal
		SlurmctldHost=$node(127.0.0.1)
		SlurmctldPort=$(vtslurm_free_port)
		SlurmdPort=$(vtslurm_free_port)
		SlurmUser=root
		SlurmdUser=root
		AuthType=auth/munge
		AuthInfo=socket=$d/munge/sock
		CredType=cred/munge
		StateSaveLocation=$d/state
		SlurmdSpoolDir=$d/spool
		SlurmctldPidFile=$d/slurmctld.pid
		SlurmdPidFile=$d/slurmd.pid
		SlurmctldLogFile=$d/slurmctld.log
		SlurmdLogFile=$d/slurmd.log
		SlurmctldDebug=info
		SlurmdDebug=info
		ProctrackType=proctrack/linuxproc
		TaskPlugin=task/none
		SelectType=select/cons_tres
		SelectTypeParameters=CR_CPU
		SchedulerType=sched/builtin
		SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
		AccountingStorageType=accounting_storage/none
		JobAcctGatherType=jobacct_gather/none
		JobCompType=jobcomp/none
		MpiDefault=none
		ReturnToService=2
		SlurmdParameters=config_overrides
		MinJobAge=600
		KillWait=2
		SlurmdTimeout=${VT_SLURM_TIMEOUT:-10}
		InactiveLimit=0
		NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
		PartitionName=batch Nodes=$node Default=YES MaxTime=INFINITE State=UP
	EOF
	export SLURM_CONF=$d/slurm.conf
	/usr/sbin/slurmctld -i -f "$d/slurm.conf" </dev/null >"$d/slurmctld.out" 2>&1 ||
		{ vtslurm_die "slurmctld did not start: $(cat "$d/slurmctld.out"; tail -n5 "$d/slurmctld.log" 2>/dev/null)"; return 1; }
	vtslurm_slurmd || return 1
	local out
	out=$(cd "$d" && timeout 60 srun -N1 -n1 -t 1 echo vtslurm-ok 2>&1) && [ "$out" = vtslurm-ok ] ||
		{ vtslurm_die "a test job did not run: $out $(tail -n5 "$d/slurmctld.log" "$d/slurmd.log" 2>/dev/null)"; return 1; }
}

vtslurm_slurmd() {
	local d=${VT_SLURM:?set VT_SLURM} node i state=
	node=$(hostname -s)
	/usr/sbin/slurmd -f "$d/slurm.conf" </dev/null >"$d/slurmd.out" 2>&1 ||
		{ vtslurm_die "slurmd did not start: $(cat "$d/slurmd.out"; tail -n5 "$d/slurmd.log" 2>/dev/null)"; return 1; }
	for i in $(seq 150); do
		state=$(SLURM_CONF=$d/slurm.conf sinfo -h -n "$node" -o %t 2>/dev/null) || state=
		case $state in idle) return 0 ;; esac
		sleep 0.2
	done
	vtslurm_die "the node did not come up (state '${state:-none}'): $(tail -n5 "$d/slurmctld.log" "$d/slurmd.log" 2>/dev/null)"
}

# vtslurm_kill PIDFILE: end the daemon of PIDFILE, by pid, and wait for it.
vtslurm_kill() {
	local pid i
	[ -s "$1" ] || return 0
	pid=$(cat "$1")
	kill "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$1"
	return 0
}

vtslurm_teardown() {
	local d=${VT_SLURM:?set VT_SLURM}
	vtslurm_kill "$d/slurmd.pid"
	vtslurm_kill "$d/slurmctld.pid"
	vtslurm_kill "$d/munge/munged.pid"
}

vtslurm_env() {
	echo "export SLURM_CONF=${VT_SLURM:?set VT_SLURM}/slurm.conf"
}
