package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/history"
	"github.com/chorusdev/chorus/internal/inspect"
)

func historyCmd() *cobra.Command {
	var export bool
	cmd := &cobra.Command{
		Use:   "history FILE ID",
		Short: "Show a run's journal, every generation, as an event timeline",
		Long: `history prints the journal of a run, every event in order. With --export it
writes the run as a chorus-history document instead: the format that
replay.Run replays against new code (see package replay).`,
		Args: exactArgs(2, "FILE and ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id := args[1]
			st, err := open(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			info, err := st.Run(ctx, id)
			if err != nil {
				return notFound(err, id)
			}
			events, err := st.Events(ctx, id, 0)
			if err != nil {
				return notFound(err, id)
			}
			// The run may have advanced since its row was read: keep the
			// journal the row describes.
			for len(events) > 0 && events[len(events)-1].Seq > info.LastSeq {
				events = events[:len(events)-1]
			}
			out := cmd.OutOrStdout()
			if export {
				if info.LastSeq > history.MaxExportEvents {
					return fmt.Errorf("export run %q: %w: %d events, the limit is %d", id, history.ErrExportTooLarge, info.LastSeq, history.MaxExportEvents)
				}
				info.FirstSeq = max(info.FirstSeq, 1)
				x := &history.Export{Run: info, Events: events}
				if err := x.Validate(); err != nil {
					return fmt.Errorf("export run %q: the stored journal is not consistent: %w", id, err)
				}
				return x.Encode(out)
			}
			pc, err := payloadCodec(cmd)
			if err != nil {
				return err
			}
			events = inspect.DecodeEvents(pc, events)
			rows := inspect.Events(events)
			if jsonFlag(cmd) {
				return writeJSON(out, rows)
			}
			t := newTable(out, "SEQ", "TIME", "TYPE", "NAME", "REF", "PAYLOAD")
			for i, e := range events {
				ref := ""
				if e.Ref != 0 {
					ref = strconv.FormatInt(e.Ref, 10)
				}
				t.row(strconv.FormatInt(e.Seq, 10), fmtTime(e.Time), rows[i].Type, inspect.Printable(e.Name), ref, short(e.Payload, 60))
			}
			return t.flush()
		},
	}
	cmd.Flags().BoolVar(&export, "export", false, "write the chorus-history document (the replay format) instead of the timeline")
	return cmd
}
