"""Typed references to activities defined where the workflows cannot import them from.

Every other activity a workflow calls is named by its method on its class in activities/ (imported through the
sandbox's pass-through). The delivery activity of the reconcile pass lives with the event intake in workers/,
which imports the workflows to start them: importing it back would make a cycle and load the whole API layer
into the workflow code. This stub carries only what a call needs, the registered name and the argument type;
tests/engine/test_activity_refs.py checks both against the real definition. The result is not used by the
workflow, hence `object`: any result decodes.
"""

from __future__ import annotations

from temporalio import activity

from activities.reconcile import DeliverEvents


class DeliveryActivities:
    @activity.defn(name="deliver_appointment_events")
    async def deliver_appointment_events(self, req: DeliverEvents) -> object:
        raise NotImplementedError("registered by the worker from its event intake, never run from here")
