// Package ledger holds the workflow and activities of the hub-and-spoke
// example: a monthly statement whose balance is read on premises, by an
// agent beside the ledger file, and which is sent from the hub.
package ledger

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chorusdev/chorus/activity"
	"github.com/chorusdev/chorus/workflow"
)

// Queue is the queue of the activities that run on premises.
const Queue = "onprem"

// ReadBalance returns the activity that reads an account's balance in the
// ledger file at path: it runs on the agent, where the file is. The hub
// gives ReadBalance("") to remote.NewHub: it takes the name and the
// options and never runs the function.
func ReadBalance(path string) *activity.Definition[string, int] {
	return activity.New("read-balance", func(ctx context.Context, account string) (int, error) {
		balance, err := lookup(path, account)
		if err != nil {
			return 0, err
		}
		fmt.Printf("[agent pid %d] read-balance %s: %d EUR, from %s (key %s)\n",
			os.Getpid(), account, balance, path, activity.GetInfo(ctx).IdempotencyKey)
		return balance, nil
	}).WithOptions(activity.Options{Queue: Queue, StartToCloseTimeout: time.Minute})
}

// lookup finds account in the ledger file: one "account,balance" a line.
func lookup(path, account string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, amount, ok := strings.Cut(sc.Text(), ",")
		if ok && name == account {
			n, err := strconv.Atoi(strings.TrimSpace(amount))
			if err != nil {
				return 0, activity.NonRetryable(fmt.Errorf("ledger %s: account %s: bad balance %q", path, account, amount))
			}
			return n, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, activity.NonRetryable(fmt.Errorf("ledger %s: no account %s", path, account))
}

// SendStatement sends a statement; it runs on the hub.
var SendStatement = activity.New("send-statement", func(ctx context.Context, text string) (string, error) {
	fmt.Printf("[hub pid %d] send-statement: %s\n", os.Getpid(), text)
	return "sent", nil
})

// Statement reads the account's balance on premises and sends the
// statement from the hub.
var Statement = workflow.New("monthly-statement", func(ctx workflow.Context, account string) (string, error) {
	balance, err := workflow.ExecuteActivity(ctx, ReadBalance(""), account).Get(ctx)
	if err != nil {
		return "", err
	}
	text := fmt.Sprintf("statement for %s: balance %d EUR", account, balance)
	if _, err := workflow.ExecuteActivity(ctx, SendStatement, text).Get(ctx); err != nil {
		return "", err
	}
	return text, nil
})
