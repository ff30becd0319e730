//! The names most programs need: `use aemp_actor::prelude::*;`.

pub use crate::typed::{Actor, ActorCtx, ActorRef, Message, Request, TellError};
pub use crate::{msg, Call, Ctx, Error, MonGuard, Node, NodeBuilder, NodeEvent, PortId, Value};
