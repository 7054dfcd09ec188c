package locusttest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// StatsRow is one row of <prefix>_stats.csv. Times are in milliseconds and
// sizes in bytes. Rows without requests have "N/A" in the percentile columns,
// which stay available as text in Raw.
type StatsRow struct {
	Type                string
	Name                string
	RequestCount        int64
	FailureCount        int64
	MedianResponseTime  float64
	AverageResponseTime float64
	MinResponseTime     float64
	MaxResponseTime     float64
	AverageContentSize  float64
	RequestsPerSecond   float64
	FailuresPerSecond   float64

	// Raw maps every column header, including the percentile columns such
	// as "95%", to the row's text in that column.
	Raw map[string]string
}

// FailureRow is one row of <prefix>_failures.csv.
type FailureRow struct {
	Method      string
	Name        string
	Error       string
	Occurrences int64

	// Raw maps every column header, including "First Seen" and
	// "Last Seen", to the row's text in that column.
	Raw map[string]string
}

// FindStatsRow returns the row with the given type and name. The aggregated
// row has type "" and name "Aggregated".
func FindStatsRow(rows []StatsRow, typ, name string) (StatsRow, bool) {
	for _, row := range rows {
		if row.Type == typ && row.Name == name {
			return row, true
		}
	}
	return StatsRow{}, false
}

// StatsCSV parses <prefix>_stats.csv. Locust 2.47.0 rewrites the file every
// second while it runs and closes it at shutdown without a last rewrite, so
// read it after Wait for the final numbers. A read during the run can fail
// on a half-written row.
func (m *Master) StatsCSV() ([]StatsRow, error) {
	records, err := m.readCSV("_stats.csv")
	if err != nil {
		return nil, err
	}

	rows := make([]StatsRow, 0, len(records))
	for i, record := range records {
		row := StatsRow{Raw: record, Type: record["Type"], Name: record["Name"]}
		fields := []struct {
			column string
			int    *int64
			float  *float64
		}{
			{column: "Request Count", int: &row.RequestCount},
			{column: "Failure Count", int: &row.FailureCount},
			{column: "Median Response Time", float: &row.MedianResponseTime},
			{column: "Average Response Time", float: &row.AverageResponseTime},
			{column: "Min Response Time", float: &row.MinResponseTime},
			{column: "Max Response Time", float: &row.MaxResponseTime},
			{column: "Average Content Size", float: &row.AverageContentSize},
			{column: "Requests/s", float: &row.RequestsPerSecond},
			{column: "Failures/s", float: &row.FailuresPerSecond},
		}
		for _, field := range fields {
			text, ok := record[field.column]
			if !ok {
				return nil, fmt.Errorf("%s_stats.csv: missing column %q", m.CSVPrefix, field.column)
			}
			if field.int != nil {
				*field.int, err = strconv.ParseInt(text, 10, 64)
			} else {
				*field.float, err = strconv.ParseFloat(text, 64)
			}
			if err != nil {
				return nil, fmt.Errorf("%s_stats.csv: row %d: column %q: %w", m.CSVPrefix, i+1, field.column, err)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// FailuresCSV parses <prefix>_failures.csv, which has one row per distinct
// failure message and request name.
func (m *Master) FailuresCSV() ([]FailureRow, error) {
	records, err := m.readCSV("_failures.csv")
	if err != nil {
		return nil, err
	}

	rows := make([]FailureRow, 0, len(records))
	for i, record := range records {
		row := FailureRow{
			Method: record["Method"],
			Name:   record["Name"],
			Error:  record["Error"],
			Raw:    record,
		}
		text, ok := record["Occurrences"]
		if !ok {
			return nil, fmt.Errorf("%s_failures.csv: missing column \"Occurrences\"", m.CSVPrefix)
		}
		if row.Occurrences, err = strconv.ParseInt(text, 10, 64); err != nil {
			return nil, fmt.Errorf("%s_failures.csv: row %d: column \"Occurrences\": %w", m.CSVPrefix, i+1, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// readCSV reads <prefix><suffix> and returns its data rows as maps from the
// header names to the values.
func (m *Master) readCSV(suffix string) ([]map[string]string, error) {
	if m.CSVPrefix == "" {
		return nil, errors.New("this master writes no CSV files; set MasterOptions.CSVPrefix or Headless")
	}
	path := m.CSVPrefix + suffix
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()

	records, err := csv.NewReader(file).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if len(records) == 0 {
		return nil, fmt.Errorf("%s is empty; Locust writes the header when it starts, so the master may not have started yet", path)
	}

	header := records[0]
	rows := make([]map[string]string, 0, len(records)-1)
	for _, record := range records[1:] {
		row := make(map[string]string, len(header))
		for i, column := range header {
			row[column] = record[i]
		}
		rows = append(rows, row)
	}
	return rows, nil
}
