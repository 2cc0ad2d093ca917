package auth

import (
	"fmt"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/worklist"
)

// Identity is the worklist hook: the caller as a worklist.Actor — its
// reading groups, whether it signs, whether it administers queues. Tokens
// do not work queues (403); a user who must change the password gets
// ErrMustChange; a user without reading groups gets an Actor with none
// (the worklist then shows nothing).
//
// worklist.Actor carries one Senior flag for all groups, while grants are
// per group: Senior is set only when the user is senior_reader in every
// group it reads for, so a reader in one group can never sign there
// because of seniority elsewhere. Admin is set for hub admins (reassign,
// cancel; routing is theirs).
func (s *Service) Identity(c *gin.Context) (worklist.Actor, error) {
	p, err := PrincipalOf(c)
	if err != nil {
		return worklist.Actor{}, err
	}
	return s.Policy().Actor(p)
}

// Actor maps a principal to a worklist.Actor; see Service.Identity.
func (pol *Policy) Actor(p *Principal) (worklist.Actor, error) {
	if p == nil {
		return worklist.Actor{}, ErrUnauthenticated
	}
	if p.Kind != KindUser {
		return worklist.Actor{}, fmt.Errorf("%w: tokens cannot work reading queues", ErrForbidden)
	}
	if p.MustChange {
		return worklist.Actor{}, ErrMustChange
	}
	groups := pol.Groups(p)
	a := worklist.Actor{ID: p.Name, Admin: p.has(HubAdmin), Senior: len(groups) > 0}
	for g, senior := range groups {
		a.Groups = append(a.Groups, g)
		a.Senior = a.Senior && senior
	}
	sort.Strings(a.Groups)
	return a, nil
}
