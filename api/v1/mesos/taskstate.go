package mesos

// IsTerminalState reports whether a task in state s has ended for good:
// FINISHED, FAILED, KILLED, ERROR, LOST, DROPPED, GONE or
// GONE_BY_OPERATOR. (UNREACHABLE and UNKNOWN are not: the task may come
// back.)
func IsTerminalState(s TaskState) bool {
	switch s {
	case TaskState_TASK_FINISHED, TaskState_TASK_FAILED, TaskState_TASK_KILLED,
		TaskState_TASK_ERROR, TaskState_TASK_LOST, TaskState_TASK_DROPPED,
		TaskState_TASK_GONE, TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}
