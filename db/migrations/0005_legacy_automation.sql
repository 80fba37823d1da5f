CREATE TABLE "legacy_booking_jobs" (
	"session_id" uuid PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "legacy_booking_jobs" ADD CONSTRAINT "legacy_booking_jobs_session_id_automation_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."automation_sessions"("id") ON DELETE cascade ON UPDATE no action;