//! What the login machine and the request scheduler share: the ids they hand out and the queue of
//! outputs the driver drains, in the order the two parts decided them.

use std::collections::VecDeque;

use crate::core::protocol::{Effect, OpId, Output, WaiterId};

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    outputs: VecDeque<Output>,
    next_op: u32,
    next_waiter: u32,
}

impl Outbox {
    /// A new caller id (a page's login call, a logout or a request).
    pub(crate) fn waiter(&mut self) -> WaiterId {
        self.next_waiter = self.next_waiter.wrapping_add(1);
        WaiterId(self.next_waiter)
    }

    /// A new operation id: one per effect, or per deadline that has no effect.
    pub(crate) fn op(&mut self) -> OpId {
        self.next_op = self.next_op.wrapping_add(1);
        OpId(self.next_op)
    }

    /// Asks the driver for `effect` under a new id, which its answer will carry.
    pub(crate) fn effect(&mut self, effect: Effect) -> OpId {
        let op = self.op();
        self.outputs.push_back(Output::Effect { op, effect });
        op
    }

    pub(crate) fn push(&mut self, output: Output) {
        self.outputs.push_back(output);
    }

    pub(crate) fn pop(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }
}
