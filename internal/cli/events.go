package cli

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/events"
)

// outboxView is one outbox row as `chorus events outbox` shows it.
type outboxView struct {
	Seq         int64      `json:"seq"`
	ID          string     `json:"id"`
	Run         string     `json:"run"`
	Step        int64      `json:"step"`
	Created     time.Time  `json:"created"`
	Attempts    int        `json:"attempts"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	Sent        *time.Time `json:"sent,omitempty"`
}

// parkedView is one parked message as `chorus events parked` shows it.
type parkedView struct {
	Source    string    `json:"source"`
	ID        string    `json:"id"`
	Topic     string    `json:"topic"`
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error"`
	FirstSeen time.Time `json:"first_seen"`
	Parked    time.Time `json:"parked"`
	Body      string    `json:"body"`
}

func eventsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "The event outbox, the parked inbox messages and the AsyncAPI document",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("events: a subcommand is required (outbox, parked or asyncapi)")
		},
	}
	cmd.AddCommand(eventsOutboxCmd(), eventsParkedCmd(), eventsAsyncAPICmd())
	return cmd
}

func openEvents(cmd *cobra.Command, path string) (*events.Store, error) {
	// Refuse a file that is not a Chorus database as the other commands do.
	st, err := openFile(cmd.Context(), cmd.CommandPath(), path)
	if err != nil {
		return nil, err
	}
	_ = st.Close()
	return events.OpenReadOnly(cmd.Context(), path)
}

func eventsOutboxCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "outbox FILE",
		Short: "List the events the relay has not yet delivered",
		Long: `List the outbox: the events runs published that the relay has not yet had
confirmed by the broker, in the order it sends them, with their failed
attempts and last error. With --all, the sent events still kept too.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openEvents(cmd, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := st.Outbox(cmd.Context(), all)
			if err != nil {
				return err
			}
			views := []outboxView{}
			for _, r := range rows {
				v := outboxView{Seq: r.Seq, ID: r.ID, Run: r.Run, Step: r.Step, Created: r.Created,
					Attempts: r.Attempts, LastError: r.LastError, Sent: optTime(r.Sent)}
				if r.Attempts > 0 && r.Sent.IsZero() {
					v.NextAttempt = optTime(r.NextAttempt)
				}
				views = append(views, v)
			}
			if jsonFlag(cmd) {
				return writeJSON(cmd.OutOrStdout(), views)
			}
			t := newTable(cmd.OutOrStdout(), "SEQ", "ID", "CREATED", "ATTEMPTS", "NEXT ATTEMPT", "SENT", "LAST ERROR")
			for _, v := range views {
				next, sent := "", ""
				if v.NextAttempt != nil {
					next = fmtTime(*v.NextAttempt)
				}
				if v.Sent != nil {
					sent = fmtTime(*v.Sent)
				}
				t.row(strconv.FormatInt(v.Seq, 10), v.ID, fmtTime(v.Created), strconv.Itoa(v.Attempts), next, sent, shortText(v.LastError, 60))
			}
			return t.flush()
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also list the sent events still kept")
	return cmd
}

func eventsParkedCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "parked FILE",
		Short: "List the inbox messages parked after failing too often",
		Long: `List the messages the inbox gave up on after they failed MaxAttempts times:
they were acknowledged to the broker but not processed, and are kept here with
their last error and their body until an operator deals with them.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openEvents(cmd, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			msgs, err := st.Parked(cmd.Context())
			if err != nil {
				return err
			}
			views := []parkedView{}
			for _, m := range msgs {
				views = append(views, parkedView{Source: m.Source, ID: m.ID, Topic: m.Topic, Attempts: m.Attempts,
					Error: m.Error, FirstSeen: m.FirstSeen, Parked: m.Parked, Body: string(m.Body)})
			}
			if jsonFlag(cmd) {
				return writeJSON(cmd.OutOrStdout(), views)
			}
			t := newTable(cmd.OutOrStdout(), "PARKED", "TOPIC", "SOURCE", "ID", "ATTEMPTS", "ERROR")
			for _, v := range views {
				t.row(fmtTime(v.Parked), v.Topic, v.Source, v.ID, strconv.Itoa(v.Attempts), shortText(v.Error, 60))
			}
			return t.flush()
		},
	}
}

func eventsAsyncAPICmd() *cobra.Command {
	var o events.AsyncAPIOptions
	cmd := &cobra.Command{
		Use:   "asyncapi FILE",
		Short: "Print the AsyncAPI 3.0 document of the events the application declared",
		Long: `Print, as JSON, the AsyncAPI 3.0 document of the events the application
declared in the database (events.Store.Declare): a channel per topic, a
message per event type with the JSON Schema of its CloudEvents envelope and
payload, a send operation per message.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openEvents(cmd, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			defs, err := st.Catalog(cmd.Context())
			if err != nil {
				return err
			}
			doc, err := events.AsyncAPIWith(&o, defs...)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(doc)
			return err
		},
	}
	cmd.Flags().StringVar(&o.Title, "title", "", "title of the document (default \""+events.DefaultAsyncAPITitle+"\")")
	cmd.Flags().StringVar(&o.Version, "version", "", "version of the application's API (default \""+events.DefaultAsyncAPIVersion+"\")")
	return cmd
}
