//! `TCP_NODELAY` on the pool's connections.
//!
//! sqlx 0.9.0 no longer sets it (transact-rs/sqlx#4335; the fix, #4336, is
//! merged but not released). Without it, a statement whose message is larger
//! than the socket's first send buffer (16 KB: a batch of 500 delivery
//! results is about 40 KB) leaves in pieces, and the last piece waits for the
//! server's delayed acknowledgement: 40 ms on every such statement, which was
//! four fifths of the time a worker spent recording a batch. The option is
//! set right after each connection is made, on this process's TCP sockets
//! whose peer is the database's port. Linux only (it reads `/proc/self/fd`);
//! elsewhere connections keep sqlx's defaults. Remove when sqlx sets it again.

/// Sets `TCP_NODELAY` on every TCP socket of this process connected to
/// `port` (the database's); returns how many it set.
#[cfg(target_os = "linux")]
pub(crate) fn set_on_sockets_to(port: u16) -> usize {
    use std::os::fd::BorrowedFd;
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    let mut set = 0;
    for entry in dir.flatten() {
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if !is_socket {
            continue;
        }
        // SAFETY: the descriptor was open when listed, and it is only
        // borrowed for two socket calls, never closed here. Were it closed
        // and its number reused in between, the calls would reach another
        // descriptor: a non-socket fails them, another socket is told apart
        // by its peer's port, and at worst gets TCP_NODELAY, which changes
        // when its bytes leave, never what they are.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let to_database = socket
            .peer_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .is_some_and(|a| a.port() == port);
        if to_database && socket.set_tcp_nodelay(true).is_ok() {
            set += 1;
        }
    }
    set
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn set_on_sockets_to(_port: u16) -> usize {
    0
}
