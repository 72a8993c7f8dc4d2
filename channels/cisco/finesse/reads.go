package finesse

import (
	"context"
	"errors"
	"net/url"
	"slices"

	"github.com/ctibus/ctibus/channels/cisco"
)

// reader is who reads an agent's objects: the agent's session, or the
// administrator account.
type reader struct {
	s      *agentSession // nil for the administrator
	creds  credentials
	side   *side
	teamID string
}

// readerOf returns the reader of loginID's objects: its session's, or the
// administrator's; an agent with neither is signed out or unknown.
func (c *Connector) readerOf(ctx context.Context, loginID string) (reader, error) {
	if s := c.session(loginID); s != nil {
		creds, sd := s.access()
		return reader{s: s, creds: creds, side: sd, teamID: s.currentUser().TeamID}, nil
	}
	u, err := c.adminUser(ctx, loginID)
	if errors.Is(err, errNoAdmin) {
		_, err := c.agentSession(ctx, loginID)
		return reader{}, err
	}
	if err != nil {
		return reader{}, err
	}
	return reader{creds: c.adminCreds(), side: c.activeSide(), teamID: u.TeamID}, nil
}

// get reads path as r.
func (r reader) get(ctx context.Context, path string) (*element, error) {
	if r.side == nil {
		return nil, unavailable("no Finesse side is in service; try again later")
	}
	return r.side.rest.get(ctx, r.creds, path)
}

// getTeamResource reads a team's configuration (TeamResource, Finesse
// 12.5 and later, cached by Finesse per team), or the agent's own list
// where TeamResource does not exist.
func (r reader) getTeamResource(ctx context.Context, loginID, resource, query string) (*element, error) {
	// TeamResource answers the team's members and supervisors; the
	// administrator reads the agent's own list.
	if r.teamID != "" && r.s != nil {
		e, err := r.get(ctx, "/finesse/api/TeamResource/"+url.PathEscape(r.teamID)+"/"+resource+query)
		if !errors.Is(err, cisco.ErrNotFound) {
			return e, err
		}
	}
	return r.get(ctx, "/finesse/api/User/"+url.PathEscape(loginID)+"/"+resource+query)
}

// ReasonCodes returns the agent's reason codes of category.
func (c *Connector) ReasonCodes(ctx context.Context, loginID string, category cisco.Category) ([]cisco.ReasonCode, error) {
	if !category.Known() {
		return nil, &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: cisco.ErrorMessageInvalidCategory, Data: "category",
			Text: "The category must be NOT_READY or LOGOUT."}
	}
	return prefetched(ctx, c.session(loginID), "reasonCodes:"+string(category), func(ctx context.Context) ([]cisco.ReasonCode, error) {
		return c.readReasonCodes(ctx, nil, loginID, category)
	})
}

func (c *Connector) readReasonCodes(ctx context.Context, _ *agentSession, loginID string, category cisco.Category) ([]cisco.ReasonCode, error) {
	r, err := c.readerOf(ctx, loginID)
	if err != nil {
		return nil, err
	}
	e, err := r.getTeamResource(ctx, loginID, "ReasonCodes", "?category="+string(category))
	if err != nil {
		return nil, err
	}
	codes := slices.DeleteFunc(reasonCodesOf(e), func(rc cisco.ReasonCode) bool { return rc.Category != category })
	if codes == nil {
		codes = []cisco.ReasonCode{}
	}
	return codes, nil
}

// WrapUpReasons returns the agent's wrap-up reasons.
func (c *Connector) WrapUpReasons(ctx context.Context, loginID string) ([]cisco.WrapUpReason, error) {
	return prefetched(ctx, c.session(loginID), "wrapUpReasons", func(ctx context.Context) ([]cisco.WrapUpReason, error) {
		return c.readWrapUpReasons(ctx, nil, loginID)
	})
}

func (c *Connector) readWrapUpReasons(ctx context.Context, _ *agentSession, loginID string) ([]cisco.WrapUpReason, error) {
	r, err := c.readerOf(ctx, loginID)
	if err != nil {
		return nil, err
	}
	e, err := r.getTeamResource(ctx, loginID, "WrapUpReasons", "")
	if err != nil {
		return nil, err
	}
	return wrapUpReasonsOf(e), nil
}

// PhoneBooks returns the agent's phone books, global ones first, with
// their contacts.
func (c *Connector) PhoneBooks(ctx context.Context, loginID string) ([]cisco.PhoneBook, error) {
	return prefetched(ctx, c.session(loginID), "phoneBooks", func(ctx context.Context) ([]cisco.PhoneBook, error) {
		return c.readPhoneBooks(ctx, nil, loginID)
	})
}

func (c *Connector) readPhoneBooks(ctx context.Context, _ *agentSession, loginID string) ([]cisco.PhoneBook, error) {
	r, err := c.readerOf(ctx, loginID)
	if err != nil {
		return nil, err
	}
	e, err := r.getTeamResource(ctx, loginID, "PhoneBooks", "")
	if err != nil {
		return nil, err
	}
	books := phoneBooksOf(e)
	for i, b := range books {
		// The User-scoped list links its contacts instead of listing them.
		if len(b.Contacts) == 0 && b.URI != "" && e.all("PhoneBook")[i].child("contacts") != nil && e.all("PhoneBook")[i].child("contacts").text != "" {
			ce, err := r.get(ctx, b.URI+"/Contacts")
			if err != nil {
				return nil, err
			}
			books[i].Contacts = contactsOf(ce)
		}
	}
	slices.SortStableFunc(books, func(a, b cisco.PhoneBook) int {
		return boolRank(a.Type != cisco.PhoneBookGlobal) - boolRank(b.Type != cisco.PhoneBookGlobal)
	})
	return books, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Dialogs returns the agent's dialogs: as its notifications left them when
// it is signed in here.
func (c *Connector) Dialogs(ctx context.Context, loginID string) ([]cisco.Dialog, error) {
	if s := c.session(loginID); s != nil {
		if f := s.takePrefetch("dialogs"); f != nil {
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return s.currentDialogs(), nil
	}
	r, err := c.readerOf(ctx, loginID)
	if err != nil {
		return nil, err
	}
	e, err := r.get(ctx, "/finesse/api/User/"+url.PathEscape(loginID)+"/Dialogs")
	if err != nil {
		return nil, err
	}
	return dialogsOf(e), nil
}

// readDialogs reads the agent's dialogs into its session.
func (c *Connector) readDialogs(ctx context.Context, s *agentSession) (any, error) {
	creds, sd := s.access()
	read := s.dialogsRead()
	e, err := sd.rest.get(ctx, creds, "/finesse/api/User/"+s.loginID+"/Dialogs")
	if err != nil {
		return nil, err
	}
	s.resyncDialogs(dialogsOf(e), read)
	return nil, nil
}

// Media returns the agent's Media in each media routing domain.
func (c *Connector) Media(ctx context.Context, loginID string) ([]cisco.Media, error) {
	s := c.session(loginID)
	if s == nil {
		r, err := c.readerOf(ctx, loginID)
		if err != nil {
			return nil, err
		}
		e, err := r.get(ctx, "/finesse/api/User/"+url.PathEscape(loginID)+"/Media")
		if err != nil {
			return nil, err
		}
		c.setMRDs(mrdsOf(e))
		return mediaListOf(e), nil
	}
	return prefetched(ctx, s, "media", func(ctx context.Context) ([]cisco.Media, error) {
		m, err := c.readMedia(ctx, s)
		if err != nil {
			return nil, err
		}
		return m.([]cisco.Media), nil
	})
}

func (c *Connector) readMedia(ctx context.Context, s *agentSession) (any, error) {
	creds, sd := s.access()
	e, err := sd.rest.get(ctx, creds, "/finesse/api/User/"+s.loginID+"/Media")
	if err != nil {
		return nil, err
	}
	c.setMRDs(mrdsOf(e))
	return mediaListOf(e), nil
}

func (c *Connector) setMRDs(mrds []cisco.MRD) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mrds = mrds
}

// voiceMRD is the media routing domain of voice, which every contact
// center has.
var voiceMRD = cisco.MRD{ID: "1", Name: "Cisco_Voice", Description: "Voice", MediaClass: "voice"}

// MediaRoutingDomains returns the media routing domains, as an agent's
// MediaList last gave them (Finesse gives agents no list of its own); an
// agent signed in here is read if none has been yet. Before any, voice.
func (c *Connector) MediaRoutingDomains(ctx context.Context) ([]cisco.MRD, error) {
	c.mu.Lock()
	mrds := slices.Clone(c.mrds)
	var any *agentSession
	for _, s := range c.sessions {
		any = s
		break
	}
	c.mu.Unlock()
	if mrds != nil {
		return mrds, nil
	}
	if any != nil {
		if _, err := c.Media(ctx, any.loginID); err == nil {
			c.mu.Lock()
			mrds = slices.Clone(c.mrds)
			c.mu.Unlock()
			return mrds, nil
		}
	}
	return []cisco.MRD{voiceMRD}, nil
}

// SystemInfo returns the SystemInfo of the side sign-ins go to, as last
// read (every StatusInterval, and as Finesse pushes it).
func (c *Connector) SystemInfo(ctx context.Context) (cisco.SystemInfo, error) {
	sd := c.activeSide()
	if sd == nil {
		return cisco.SystemInfo{}, unavailable("no Finesse side is in service; try again later")
	}
	if info, ok := sd.systemInfo(); ok {
		return info, nil
	}
	if err := c.refresh(ctx, sd); err != nil {
		return cisco.SystemInfo{}, err
	}
	if info, ok := sd.systemInfo(); ok {
		return info, nil
	}
	return cisco.SystemInfo{}, unavailable("Finesse " + sd.name + "'s SystemInfo could not be read; try again later")
}
