package sim

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ctibus/ctibus/channels/cisco"
	"github.com/ctibus/ctibus/internal/clip"
)

// Input checks: the bounds Finesse puts on addresses and call data.

// Limits of call data, after Finesse's.
const (
	maxAddress      = 32  // digits in a number
	maxCallVariable = 40  // bytes in a callVariable1..10 value
	maxECCVariable  = 210 // bytes in a user.<name> ECC value
	maxECCName      = 32  // characters after "user."
	maxECCVariables = 50  // ECC variables on one call
	maxWrapUpReason = 39  // bytes, as a WrapUpReason label
)

// checkAddress validates a phone number or extension: 1 to 32 digits,
// with an optional leading +.
func checkAddress(field, address string) *cisco.Error {
	digits := strings.TrimPrefix(address, "+")
	if digits == "" || len(digits) > maxAddress || !isDigits(digits) {
		return errInvalidAddress(field, fmt.Sprintf("%s %q is not a number: give 1 to %d digits, optionally after a +.", field, clip.Short(address), maxAddress))
	}
	return nil
}

// checkCallVariables validates call data and returns it in order:
// callVariable1..10 (names matched without regard to case), then the ECC
// variables user.<name> in the order given.
func checkCallVariables(vars []cisco.CallVariable) ([]cisco.CallVariable, *cisco.Error) {
	var std [10]*cisco.CallVariable
	var ecc []cisco.CallVariable
	for _, v := range vars {
		lower := strings.ToLower(v.Name)
		if n, ok := strings.CutPrefix(lower, "callvariable"); ok {
			i, err := strconv.Atoi(n)
			if err != nil || i < 1 || i > 10 || !isDigits(n) {
				return nil, errCallData(fmt.Sprintf("%q is not a call variable; use callVariable1 to callVariable10, or user.<name> for an ECC variable.", clip.Short(v.Name)))
			}
			if len(v.Value) > maxCallVariable {
				return nil, errCallData(fmt.Sprintf("%s is longer than %d bytes; shorten it.", v.Name, maxCallVariable))
			}
			std[i-1] = &cisco.CallVariable{Name: "callVariable" + n, Value: v.Value}
			continue
		}
		name, ok := strings.CutPrefix(v.Name, "user.")
		if !ok || name == "" || len(name) > maxECCName || strings.ContainsFunc(name, func(r rune) bool {
			return !(r == '_' || r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
			return nil, errCallData(fmt.Sprintf("%q is not a call variable; use callVariable1 to callVariable10, or user.<name> (up to %d letters, digits, _ . -) for an ECC variable.", clip.Short(v.Name), maxECCName))
		}
		if len(v.Value) > maxECCVariable {
			return nil, errCallData(fmt.Sprintf("%s is longer than %d bytes; shorten it.", v.Name, maxECCVariable))
		}
		ecc = append(ecc, v)
	}
	if len(ecc) > maxECCVariables {
		return nil, errCallData(fmt.Sprintf("A call carries at most %d ECC variables.", maxECCVariables))
	}
	var out []cisco.CallVariable
	for _, v := range std {
		if v != nil {
			out = append(out, *v)
		}
	}
	return append(out, ecc...), nil
}

func errCallData(text string) *cisco.Error {
	return &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: cisco.ErrorMessageInvalidCallData, Text: text}
}

func errInvalidAddress(field, text string) *cisco.Error {
	return &cisco.Error{Type: cisco.ErrorTypeInvalidInput, Message: cisco.ErrorMessageInvalidAddress + ": " + field, Text: text}
}

func errInvalidState(text string) *cisco.Error {
	return &cisco.Error{Type: cisco.ErrorTypeInvalidState, Message: cisco.ErrorMessageInvalidState, Text: text}
}

func errSignedOut(loginID string) *cisco.Error {
	return errInvalidState(fmt.Sprintf("Agent %s is signed out; sign in first.", loginID))
}

func errDialogNotFound(dialogID string) *cisco.Error {
	return &cisco.Error{Type: cisco.ErrorTypeDialogNotFound, Message: cisco.ErrorMessageInvalidDialog,
		Text: fmt.Sprintf("You are not on a call with id %q; check the CallID against your CallsStateChange events.", clip.Short(dialogID))}
}
