//! Messages M1-M4 of note section 3.

use super::types::{RdsId, RemoteAddr, Seq, StreamId, Ts};
use serde::{Deserialize, Serialize};

/// M1 (step 602): write data 113 with its time stamp 114, sequence number 115, remote disk
/// address 208 and positioning info 209. `payload` is `None` for a heartbeat (hardened only),
/// which consumes a sequence number and carries no data.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct DataPacket<P> {
    pub stream: StreamId,
    pub seq: Seq,
    pub ts: Ts,
    pub addr: RemoteAddr,
    pub payload: Option<P>,
}

/// Everything that crosses the network.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum Message<P> {
    /// M1, LDS -> RDS.
    Data(DataPacket<P>),
    /// M2 (step 801), RDS -> LDS: the transfer of (stream, seq) completed.
    Ack { stream: StreamId, seq: Seq },
    /// M3 (step 902), slave -> master: the earliest frontier time stamp over the slave's streams.
    Report { rds: RdsId, ts: Ts },
    /// M4 (step 1001), master -> every slave: limit time 118.
    Limit { ts: Ts },
}
