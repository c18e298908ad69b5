//! [`PortPool`]: even RTP ports from a configured range, RTCP on the odd port above.
//!
//! Allocation walks the range round-robin from where the last one stopped (so a port just
//! released is not reused at once, and stray packets of the previous call do not reach the
//! next), binds both ports, and skips a pair when either bind fails (another process holds
//! it). The returned [`PortLease`] gives the pair back to the pool on drop. The work per
//! allocation is bounded by the size of the range.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug)]
struct PoolState {
    /// First (even) RTP port.
    first: u16,
    /// `in_use[i]` covers RTP port `first + 2 * i`.
    in_use: Vec<bool>,
    cursor: usize,
}

/// A pool of RTP/RTCP port pairs. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct PortPool {
    state: Arc<Mutex<PoolState>>,
}

/// A port pair taken from a [`PortPool`], returned to it on drop.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    state: Arc<Mutex<PoolState>>,
}

/// The sockets of an allocated pair (blocking std sockets, not yet registered with tokio)
/// and the lease that keeps the pair reserved.
#[derive(Debug)]
pub struct BoundPorts {
    /// Keeps the pair reserved; drop it after the sockets.
    pub lease: PortLease,
    /// Bound to the even port.
    pub rtp: UdpSocket,
    /// Bound to the port above.
    pub rtcp: UdpSocket,
}

fn lock(state: &Mutex<PoolState>) -> MutexGuard<'_, PoolState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl PortPool {
    /// A pool over `[min, max]` (inclusive). Pairs start on even ports and both ports of a
    /// pair lie within the range. Fails if no pair fits or `min` is 0.
    pub fn new(min: u16, max: u16) -> io::Result<PortPool> {
        let first = min.checked_add(min % 2).filter(|&f| f != 0);
        let slots = match first {
            Some(first) if max > first => usize::from(max - first).div_ceil(2),
            _ => 0,
        };
        if slots == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("RTP port range {min}-{max} holds no even/odd port pair"),
            ));
        }
        Ok(PortPool {
            state: Arc::new(Mutex::new(PoolState {
                first: first.unwrap_or(min),
                in_use: vec![false; slots],
                cursor: 0,
            })),
        })
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> usize {
        lock(&self.state).in_use.len()
    }

    /// How many pairs are leased.
    pub fn in_use(&self) -> usize {
        lock(&self.state)
            .in_use
            .iter()
            .filter(|&&used| used)
            .count()
    }

    /// Binds the next free pair on `ip`. Fails with `AddrInUse` when every pair is leased
    /// or fails to bind.
    pub fn allocate(&self, ip: IpAddr) -> io::Result<BoundPorts> {
        let mut state = lock(&self.state);
        let slots = state.in_use.len();
        for k in 0..slots {
            let i = (state.cursor + k) % slots;
            if state.in_use[i] {
                continue;
            }
            let port = state.first + 2 * i as u16;
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(ip, port)) else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, port + 1)) else {
                continue;
            };
            state.in_use[i] = true;
            state.cursor = (i + 1) % slots;
            return Ok(BoundPorts {
                lease: PortLease {
                    port,
                    state: Arc::clone(&self.state),
                },
                rtp,
                rtcp,
            });
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "RTP port range exhausted",
        ))
    }
}

impl PortLease {
    /// The RTP port (RTCP is the port above).
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        let i = usize::from((self.port - state.first) / 2);
        if let Some(slot) = state.in_use.get_mut(i) {
            *slot = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// A free range of `pairs` port pairs, found by binding (the test suite runs in parallel
    /// with other processes).
    fn free_range(pairs: u16) -> (u16, u16) {
        for base in (42_000u16..60_000).step_by(64) {
            let sockets: Vec<_> = (base..base + 2 * pairs)
                .map_while(|p| UdpSocket::bind((Ipv4Addr::LOCALHOST, p)).ok())
                .collect();
            if sockets.len() == usize::from(2 * pairs) {
                return (base, base + 2 * pairs - 1);
            }
        }
        panic!("no free port range");
    }

    #[test]
    fn ranges() {
        assert_eq!(PortPool::new(10000, 10001).unwrap().capacity(), 1);
        assert_eq!(PortPool::new(10001, 10004).unwrap().capacity(), 1);
        assert_eq!(PortPool::new(10000, 20000).unwrap().capacity(), 5000);
        assert!(PortPool::new(10000, 10000).is_err());
        assert!(PortPool::new(10001, 10002).is_err());
        assert!(PortPool::new(0, 1).is_err());
        assert!(PortPool::new(65535, 65535).is_err());
        assert!(PortPool::new(20000, 10000).is_err());
    }

    #[test]
    fn exhaustion_release_and_skipping_busy_ports() {
        let (min, max) = free_range(3);
        let pool = PortPool::new(min, max).unwrap();
        let a = pool.allocate(LOCALHOST).unwrap();
        let b = pool.allocate(LOCALHOST).unwrap();
        let c = pool.allocate(LOCALHOST).unwrap();
        let mut ports = [a.lease.port(), b.lease.port(), c.lease.port()];
        ports.sort();
        assert_eq!(ports, [min, min + 2, min + 4]);
        assert_eq!(a.rtcp.local_addr().unwrap().port(), a.lease.port() + 1);
        assert_eq!(pool.in_use(), 3);
        let err = pool.allocate(LOCALHOST).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);

        // Released on drop; a port held by someone else is skipped.
        let b_port = b.lease.port();
        drop(b);
        drop(a);
        assert_eq!(pool.in_use(), 1);
        let squatter = UdpSocket::bind((Ipv4Addr::LOCALHOST, b_port + 1)).unwrap();
        let d = pool.allocate(LOCALHOST).unwrap();
        assert_ne!(d.lease.port(), b_port);
        let err = pool.allocate(LOCALHOST).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(squatter);
        assert_eq!(pool.allocate(LOCALHOST).unwrap().lease.port(), b_port);
    }
}
