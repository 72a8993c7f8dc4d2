package cisco_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ctibus/ctibus/channels/cisco"
)

func TestErrorString(t *testing.T) {
	err := &cisco.Error{Type: "Invalid State", Message: "CF_INVALID_OBJECT_STATE", Text: "The agent is signed out."}

	assert.Equal(t, "cisco: Invalid State: The agent is signed out.", err.Error())
	assert.Equal(t, "cisco: Device Busy", cisco.ErrDeviceBusy.Error())
}

func TestErrorIs(t *testing.T) {
	sentinels := []*cisco.Error{
		cisco.ErrAuthorization, cisco.ErrInvalidDevice, cisco.ErrDeviceBusy,
		cisco.ErrInvalidState, cisco.ErrInvalidInput, cisco.ErrNotFound,
	}
	tests := []struct {
		give     error
		wantType string
	}{
		{give: &cisco.Error{Type: cisco.ErrorTypeAuthorization, Message: "UNAUTHORIZED", Text: "x"}, wantType: "Authorization Failure"},
		{give: &cisco.Error{Type: cisco.ErrorTypeInvalidDevice, Message: "CF_INVALID_LOGON_DEVICE_SPECIFIED"}, wantType: "Invalid Device"},
		{give: &cisco.Error{Type: cisco.ErrorTypeDeviceBusy}, wantType: "Device Busy"},
		{give: fmt.Errorf("set state: %w", &cisco.Error{Type: cisco.ErrorTypeInvalidState, Text: "y"}), wantType: "Invalid State"},
		{give: &cisco.Error{Type: cisco.ErrorTypeInvalidInput}, wantType: "Invalid Input"},
		{give: &cisco.Error{Type: cisco.ErrorTypeNotFound, Message: "UNKNOWN_USER"}, wantType: "User Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.wantType, func(t *testing.T) {
			for _, s := range sentinels {
				assert.Equal(t, s.Type == tt.wantType, errors.Is(tt.give, s), "errors.Is(%v, %v)", tt.give, s)
			}
			assert.False(t, errors.Is(tt.give, errors.New("cisco: "+tt.wantType)))
		})
	}
}
