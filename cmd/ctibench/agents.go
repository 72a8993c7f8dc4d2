package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/crypto/bcrypt"

	"github.com/ctibus/ctibus/channels/cisco/sim"
)

// benchPassword is the password of every agent in a written file.
const benchPassword = "bench-pass"

// Agents of a written file: agent i has loginId 300000+i, loginName
// bench<i> and extension 10000+i.
func agentLoginID(i int) string   { return strconv.Itoa(300000 + i) }
func agentLoginName(i int) string { return "bench" + strconv.Itoa(i) }
func agentExtension(i int) string { return strconv.Itoa(10000 + i) }

// writeAgentsFile writes a directory of n agents for ctibus -agents, all
// with benchPassword hashed at cost. One hash serves every agent: each
// sign-in still pays a full bcrypt comparison, and writing 10,000 agents
// takes one hashing, not 10,000.
func writeAgentsFile(path string, n, cost int) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), cost)
	if err != nil {
		return fmt.Errorf("hash the agents' password: %w", err)
	}
	dir := sim.DirectoryFile{Teams: []sim.FileTeam{{ID: "9001", Name: "Bench"}}}
	for i := range n {
		dir.Agents = append(dir.Agents, sim.FileAgent{
			LoginID: agentLoginID(i), LoginName: agentLoginName(i),
			FirstName: "Bench", LastName: strconv.Itoa(i),
			PasswordHash: string(hash), TeamID: "9001",
		})
	}
	b, err := json.Marshal(dir)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write the agents file: %w", err)
	}
	return nil
}
