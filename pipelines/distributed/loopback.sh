# loopback.sh: ssh "hosts" on loopback addresses, for the tests and the
# benchmark of train.sh.  Source it (bash).  A host N is an sshd of its own
# that listens on 127.0.0.N, with a temporary host key, user key and
# configuration (no PAM, no passwords); the client configuration it writes
# shares one connection per host (ControlMaster).
#
#   VT_SSHD=DIR VT_CM=SHORTDIR  (the control sockets need a short path)
#   vdist_lo_setup 2 3 4        keys, configs, a free port, hosts up: 0 or 1
#   vdist_lo_start N / vdist_lo_stop N / vdist_lo_wait N
#   vdist_lo_teardown 2 3 4     every host down, by pid; the sockets removed
#   ssh -F "$VT_SSHD/ssh_config" 127.0.0.N ...
#
# Needs /usr/sbin/sshd (Debian openssh-server) and ssh.  As root, Debian's
# sshd also wants /run/sshd, which vdist_lo_setup creates if missing.

vdist_lo_setup() {
	local d=$VT_SSHD h port ok
	mkdir -p "$d" "$VT_CM"
	ssh-keygen -q -t ed25519 -N '' -f "$d/hostkey" <<<y >/dev/null 2>&1
	ssh-keygen -q -t ed25519 -N '' -f "$d/userkey" <<<y >/dev/null 2>&1
	if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi
	cat >"$d/sshd_config" <<-EOF
		HostKey $d/hostkey
		AuthorizedKeysFile $d/userkey.pub
		UsePAM no
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		PubkeyAuthentication yes
		PermitRootLogin yes
		StrictModes no
		LogLevel INFO
	EOF
	for port in $((20000 + $$ % 20000)) $((21000 + RANDOM % 20000)) $((22000 + RANDOM % 20000)); do
		echo "$port" >"$d/port"
		ok=1
		for h in "$@"; do vdist_lo_start "$h" || { ok=0; break; }; done
		[ $ok = 1 ] && break
		for h in "$@"; do vdist_lo_stop "$h"; done
		rm -f "$d/port"
	done
	[ -f "$d/port" ] || return 1
	cat >"$d/ssh_config" <<-EOF
		Host *
		  User $(id -un)
		  Port $(cat "$d/port")
		  IdentityFile $d/userkey
		  IdentitiesOnly yes
		  PreferredAuthentications publickey
		  StrictHostKeyChecking no
		  UserKnownHostsFile /dev/null
		  GlobalKnownHostsFile /dev/null
		  LogLevel ERROR
		  BatchMode yes
		  ConnectTimeout 5
		  KexAlgorithms curve25519-sha256
		  ControlMaster auto
		  ControlPath $VT_CM/%C
		  ControlPersist 120
	EOF
	for h in "$@"; do vdist_lo_wait "$h" || return 1; done
}

# vdist_lo_start N: an sshd for 127.0.0.N in a background job (its pid is
# the job's); 0 once it listens.
vdist_lo_start() {
	local d=$VT_SSHD port i
	port=$(cat "$d/port")
	/usr/sbin/sshd -D -f "$d/sshd_config" -o "ListenAddress=127.0.0.$1:$port" \
		-o "PidFile=$d/sshd-$1.pidfile" -E "$d/sshd-$1.log" </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$d/sshd-$1.pid"
	for i in $(seq 50); do
		grep -q "Server listening" "$d/sshd-$1.log" 2>/dev/null && return 0
		kill -0 "$(cat "$d/sshd-$1.pid")" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# vdist_lo_stop N: close the shared connection to 127.0.0.N, then end its
# sshd and the sessions it serves (its children), by pid.
vdist_lo_stop() {
	local d=$VT_SSHD pid c
	[ ! -f "$d/ssh_config" ] || ssh -F "$d/ssh_config" -O exit "127.0.0.$1" >/dev/null 2>&1 || true
	[ -f "$d/sshd-$1.pid" ] || return 0
	pid=$(cat "$d/sshd-$1.pid")
	for c in $(pgrep -P "$pid" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
	kill "$pid" 2>/dev/null || true
	for c in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rm -f "$d/sshd-$1.pid"
	: >"$d/sshd-$1.log"
	return 0
}

# vdist_lo_wait N: 0 once a login to 127.0.0.N works.
vdist_lo_wait() {
	local i
	for i in $(seq 30); do
		ssh -F "$VT_SSHD/ssh_config" "127.0.0.$1" true 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

vdist_lo_teardown() {
	local h
	for h in "$@"; do vdist_lo_stop "$h"; done
	[ -z "${VT_CM:-}" ] || rm -rf "$VT_CM"
}
