//! Counters kept by the endpoint (plain integers; the shell copies them out).

/// Endpoint counters. All are totals since start except the gauges marked as such.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages fed in (datagrams / TCP frames).
    pub messages_received: u64,
    /// Messages we could not answer at all (garbage, no usable Via): dropped.
    pub parse_errors_dropped: u64,
    /// `400 Bad Request` answers.
    pub bad_requests_sent: u64,
    /// New INVITEs (calls created, `Event::Invite` emitted).
    pub invites: u64,
    /// In-dialog re-INVITEs.
    pub reinvites: u64,
    /// Retransmitted requests answered from transaction state (no new event).
    pub retransmissions_absorbed: u64,
    /// Responses/requests re-sent by timers (Timer G, 2xx, Timer E).
    pub retransmissions_sent: u64,
    /// Responses that matched none of our client transactions.
    pub stray_responses: u64,
    /// ACKs that matched no transaction or dialog.
    pub stray_acks: u64,
    /// CANCELs that matched an INVITE.
    pub cancels: u64,
    /// `481` answers (no such dialog / transaction).
    pub no_dialog_481: u64,
    /// `405` answers.
    pub method_not_allowed_405: u64,
    /// 2xx never ACKed within 64·T1.
    pub ack_timeouts: u64,
    /// Non-2xx final never ACKed (Timer H).
    pub invite_timeouts: u64,
    /// Our BYE/INFO without a final response within 64·T1 (Timer F).
    pub client_timeouts: u64,
    /// Responses sent (first transmissions, not timer retransmissions).
    pub responses_sent: u64,
    /// Requests sent (BYE, INFO; first transmissions).
    pub requests_sent: u64,
    /// Gauge: calls (INVITE server transactions / dialogs) held.
    pub calls: u64,
    /// Gauge: cached non-INVITE server transactions (Timer J).
    pub non_invite_transactions: u64,
}
