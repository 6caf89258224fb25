package scheduler

import (
	v1 "github.com/mezzo-project/mezzo/api/v1/scheduler"
)

// V1 returns the v1 Call that c is: the same parts, with the v0
// subscription's fields in their v1 places (force has no v1 field: a
// framework that subscribes with its id always takes over). The parts
// are shared with c, not copied.
func (c *Call) V1() *v1.Call {
	out := &v1.Call{
		FrameworkId:                c.FrameworkId,
		Type:                       c.Type,
		Accept:                     c.Accept,
		Decline:                    c.Decline,
		AcceptInverseOffers:        c.AcceptInverseOffers,
		DeclineInverseOffers:       c.DeclineInverseOffers,
		Revive:                     c.Revive,
		Kill:                       c.Kill,
		Shutdown:                   c.Shutdown,
		Acknowledge:                c.Acknowledge,
		AcknowledgeOperationStatus: c.AcknowledgeOperationStatus,
		Reconcile:                  c.Reconcile,
		ReconcileOperations:        c.ReconcileOperations,
		Message:                    c.Message,
		Request:                    c.Request,
		Suppress:                   c.Suppress,
		UpdateFramework:            c.UpdateFramework,
	}
	if s := c.Subscribe; s != nil {
		out.Subscribe = &v1.Call_Subscribe{
			FrameworkInfo:    s.FrameworkInfo,
			SuppressedRoles:  s.SuppressedRoles,
			OfferConstraints: s.OfferConstraints,
		}
	}
	return out
}

// FromV1 returns the v0 Call for a v1 one (what a v0 scheduler driver
// would send for it); the parts are shared with c.
func FromV1(c *v1.Call) *Call {
	out := &Call{
		FrameworkId:                c.FrameworkId,
		Type:                       c.Type,
		Accept:                     c.Accept,
		Decline:                    c.Decline,
		AcceptInverseOffers:        c.AcceptInverseOffers,
		DeclineInverseOffers:       c.DeclineInverseOffers,
		Revive:                     c.Revive,
		Kill:                       c.Kill,
		Shutdown:                   c.Shutdown,
		Acknowledge:                c.Acknowledge,
		AcknowledgeOperationStatus: c.AcknowledgeOperationStatus,
		Reconcile:                  c.Reconcile,
		ReconcileOperations:        c.ReconcileOperations,
		Message:                    c.Message,
		Request:                    c.Request,
		Suppress:                   c.Suppress,
		UpdateFramework:            c.UpdateFramework,
	}
	if s := c.Subscribe; s != nil {
		out.Subscribe = &Call_Subscribe{
			FrameworkInfo:    s.FrameworkInfo,
			SuppressedRoles:  s.SuppressedRoles,
			OfferConstraints: s.OfferConstraints,
		}
	}
	return out
}
