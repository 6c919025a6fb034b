// Package sd speaks the two small systemd protocols a service needs,
// implemented directly: readiness notification (sd_notify(3): READY=1,
// RELOADING=1, STOPPING=1 as a datagram to $NOTIFY_SOCKET) and socket
// activation (sd_listen_fds(3): descriptors from 3 on, counted by
// $LISTEN_FDS, for the process named by $LISTEN_PID, named by
// $LISTEN_FDNAMES). Both read the environment through a lookup function
// the caller passes, so tests need no process-wide state.
package sd
