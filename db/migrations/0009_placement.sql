ALTER TABLE "automation_sessions" ADD COLUMN "instance" text;--> statement-breakpoint
ALTER TABLE "automation_sessions" ADD COLUMN "prompt_timeout_s" integer;--> statement-breakpoint
ALTER TABLE "automation_sessions" ADD COLUMN "sealed_input" text;--> statement-breakpoint
CREATE INDEX "automation_sessions_queue_idx" ON "automation_sessions" USING btree ("status","created_at","id");